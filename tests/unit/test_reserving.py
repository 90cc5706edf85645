"""Reserve estimates against published figures (RAA: Mack 1993; Mortgage: Mack 1999), a small
hand-computed triangle for Bornhuetter-Ferguson and Cape Cod, and properties (hypothesis)."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pd_prime_demo.claims.bornhuetter import ExpectedLossResult, bornhuetter_ferguson, cape_cod
from pd_prime_demo.claims.chainladder import ChainLadder, average_factors, chain_ladder
from pd_prime_demo.claims.mack import MackResult, SigmaMethod, mack
from pd_prime_demo.claims.triangles import ReservingError, Triangle

NAN = math.nan

# The RAA triangle (Mack 1993, Table 1): cumulative paid, accident years 1981-1990.
RAA = [
    [5012, 8269, 10907, 11805, 13539, 16181, 18009, 18608, 18662, 18834],
    [106, 4285, 5396, 10666, 13782, 15599, 15496, 16169, 16704],
    [3410, 8992, 13873, 16141, 18735, 22214, 22863, 23466],
    [5655, 11555, 15766, 21266, 23425, 26083, 27067],
    [1092, 9565, 15836, 22169, 25955, 26180],
    [1513, 6445, 11702, 12935, 15852],
    [557, 4020, 10946, 12314],
    [1351, 6947, 13112],
    [3133, 5395],
    [2063],
]
# Mack (1999), Table 1's Mortgage Guarantee triangle, origins 2001-2009 in R ChainLadder.
MORTGAGE = [
    [58046, 127970, 476599, 1027692, 1360489, 1647310, 1819179, 1906852, 1950105],
    [24492, 141767, 984288, 2142656, 2961978, 3683940, 4048898, 4115760],
    [32848, 274682, 1522637, 3203427, 4445927, 5158781, 5342585],
    [21439, 529828, 2900301, 4999019, 6460112, 6853904],
    [40397, 763394, 2920745, 4989572, 5648563],
    [90748, 951994, 4210640, 5866482],
    [62096, 868480, 1954797],
    [24983, 284441],
    [13121],
]
# The UK Motor triangle (Christofides 1997), ``cl.load_sample("ukmotor")``, origins 2007-2013.
UKMOTOR = [
    [3511, 6726, 8992, 10704, 11763, 12350, 12690],
    [4001, 7703, 9981, 11161, 12117, 12746],
    [4355, 8287, 10233, 11755, 12993],
    [4295, 7750, 9773, 11093],
    [4150, 7897, 10217],
    [5102, 9650],
    [6283],
]


def triangle(rows: list[list[int]], first: int, *, measure: str = "paid") -> Triangle:
    n = max(len(r) for r in rows)
    values = np.full((len(rows), n), NAN)
    for i, row in enumerate(rows):
        values[i, : len(row)] = row
    origins = tuple(str(first + i) for i in range(len(rows)))
    ages = tuple(12 * (k + 1) for k in range(n))
    # RAA's 1982 paid goes down at 84 months (15,599 to 15,496): net of recoveries.
    return Triangle(
        origins, ages, values, "paid" if measure == "paid" else "incurred", allow_decrease=True
    )


def raa() -> Triangle:
    return triangle(RAA, 1981)


def small() -> Triangle:
    values = np.array([[100, 150, 165], [120, 192, NAN], [130, NAN, NAN]], dtype=np.float64)
    return Triangle(("2021", "2022", "2023"), (12, 24, 36), values, "paid")


PREMIUM = {"2021": Decimal("250.00"), "2022": Decimal("300.00"), "2023": Decimal("350.00")}


def test_raa_chain_ladder() -> None:
    cl = chain_ladder(raa())
    assert cl.total_ultimate == pytest.approx(213_122.23, abs=0.005)
    assert cl.total_ibnr == pytest.approx(52_135.23, abs=0.005)
    assert cl.total_latest == 160_987.0
    assert cl.factors[0] == pytest.approx(2.999359, abs=1e-6)
    assert cl.factors[-1] == pytest.approx(1.009217, abs=1e-6)
    assert cl.ibnr[0] == 0.0
    assert cl.ibnr[1] == pytest.approx(153.95, abs=0.01)
    assert cl.ultimate[-1] == pytest.approx(18_402.44, abs=0.01)


def test_raa_mack_log_linear() -> None:
    m = mack(raa())
    assert m.sigma_method == "log-linear"
    assert m.total_se == pytest.approx(26_880.74, abs=0.005)
    assert m.sigma_extrapolated == (False,) * 8 + (True,)
    assert m.sigma[0] == pytest.approx(166.98, abs=0.01)
    assert m.sigma[-1] == pytest.approx(0.803, abs=0.001)
    assert m.se[0] == 0.0
    assert m.se[-1] == pytest.approx(24_565.78, abs=0.01)
    assert m.se[4] == pytest.approx(1_452.1, abs=0.05)
    assert m.cv[0] is None
    assert m.total_cv == pytest.approx(26_880.74 / 52_135.23, rel=1e-6)


def test_raa_mack_own_extrapolation_matches_r_chainladder() -> None:
    """R ChainLadder's ``MackChainLadder(RAA, est.sigma="Mack")`` prints Mack.S.E 206, 623,
    747, 1,469, 2,002, 2,209, 5,358, 6,333, 24,566 and a total of 26,909: Mack's formula
    gives sigma_9 = min(sigma_8^4/sigma_7^2, sigma_7^2, sigma_8^2)^(1/2) = sigma_7 = 1.159,
    above the log-linear 0.803, so every open origin's standard error is a little higher."""
    m = mack(raa(), sigma="mack")
    assert m.sigma_method == "mack"
    assert m.total_se == pytest.approx(26_909.01, abs=0.01)
    assert m.sigma[-1] == pytest.approx(m.sigma[-3])
    expected = [0, 206, 623, 747, 1469, 2002, 2209, 5358, 6333, 24566]
    assert [round(s) for s in m.se] == expected
    assert m.total_se > mack(raa()).total_se


def test_ukmotor_matches_the_chainladder_package_documentation() -> None:
    """``cl.MackChainladder().fit(cl.load_sample("ukmotor")).summary_`` as the chainladder
    package documents it (default log-linear sigma), to its six printed decimals."""
    m = mack(triangle(UKMOTOR, 2007))
    ibnr = [350.902024, 1037.536767, 2044.859861, 3663.404483, 7162.150646, 14396.919151]
    se = [27.246756, 36.524408, 144.534287, 427.634355, 693.166178, 901.408385]
    assert m.chain_ladder.ibnr[1:] == pytest.approx(ibnr, abs=1e-6)
    assert m.se[1:] == pytest.approx(se, abs=1e-6)
    assert m.total_se == pytest.approx(1424.531543, abs=1e-6)


def mack_1993_closed_form(tri: Triangle, sigma: list[float]) -> tuple[list[float], float]:
    """Mack (1993)'s formulas written out with loops, no tail: an independent check."""
    c, n = tri.values, len(tri.ages)
    last = [int(k) for k in tri.latest_index]
    f = [
        sum(c[j, k + 1] for j in range(len(c)) if last[j] > k)
        / sum(c[j, k] for j in range(len(c)) if last[j] > k)
        for k in range(n - 1)
    ]
    s = [sum(c[j, k] for j in range(len(c)) if last[j] > k) for k in range(n - 1)]
    ult = [c[i, last[i]] * math.prod(f[last[i] :]) for i in range(len(c))]
    mse = []
    for i in range(len(c)):
        acc, ck = 0.0, c[i, last[i]]
        for k in range(last[i], n - 1):
            acc += sigma[k] ** 2 / f[k] ** 2 * (1 / ck + 1 / s[k])
            ck *= f[k]
        mse.append(ult[i] ** 2 * acc)
    total = sum(mse)
    for i in range(len(c)):
        later = sum(ult[j] for j in range(len(c)) if last[j] < last[i])
        total += (
            ult[i]
            * later
            * sum(2 * sigma[k] ** 2 / f[k] ** 2 / s[k] for k in range(last[i], n - 1))
        )
    return [math.sqrt(v) for v in mse], math.sqrt(total)


@pytest.mark.parametrize("method", ["log-linear", "mack"])
def test_mack_recursion_equals_the_closed_form(method: str) -> None:
    m = mack(raa(), sigma="mack" if method == "mack" else "log-linear")
    se, total = mack_1993_closed_form(raa(), list(m.sigma))
    assert m.se == pytest.approx(se, rel=1e-10)
    assert m.total_se == pytest.approx(total, rel=1e-10)


def test_mortgage_with_a_tail_matches_mack_1999_table_1() -> None:
    m = mack(
        triangle(MORTGAGE, 2001, measure="incurred"),
        sigma="mack",
        tail=1.05,
        tail_sigma=71,
        tail_se=0.02,
    )
    f = [11.10, 4.092, 1.708, 1.276, 1.139, 1.069, 1.026, 1.023]
    se = [2.24, 0.517, 0.122, 0.051, 0.042, 0.023, 0.015, 0.012]
    sig = [1337, 988.5, 440.1, 207, 164.2, 74.60, 35.49, 16.89]
    assert m.chain_ladder.factors == pytest.approx(f, rel=5e-3)
    assert m.factor_se == pytest.approx(se, abs=5e-3)  # published to 2-3 decimals
    assert m.sigma == pytest.approx(sig, rel=1e-3)
    assert (m.tail_sigma, m.tail_se) == (71.0, 0.02)
    assert m.chain_ladder.cdf[-1] == 1.05
    no_tail = mack(triangle(MORTGAGE, 2001, measure="incurred"), sigma="mack")
    assert m.total_se > no_tail.total_se * 1.05


def test_mack_tail_defaults_are_extrapolated() -> None:
    m = mack(raa(), tail=1.02)
    assert 0 < m.tail_sigma < m.sigma[-1]
    assert 0 < m.tail_se < m.factor_se[-1]
    assert m.se[0] > 0  # the oldest origin now has a tail to develop
    assert m.chain_ladder.total_ultimate == pytest.approx(213_122.228 * 1.02, rel=1e-6)


def test_mack_needs_enough_data() -> None:
    one_age = Triangle(("2021", "2022"), (12,), np.array([[1.0], [2.0]]), "paid")
    with pytest.raises(ReservingError, match="at least two ages"):
        mack(one_age)
    two = small()
    with pytest.raises(ReservingError, match="two"):
        mack(two, sigma="mack")


def test_small_triangle_factors_by_average() -> None:
    tri = small()
    assert average_factors(tri, "volume").tolist() == pytest.approx([342 / 220, 1.1])
    assert average_factors(tri, "simple").tolist() == pytest.approx([1.55, 1.1])
    simple = chain_ladder(tri, average="simple")
    assert simple.ultimate == pytest.approx((165.0, 192 * 1.1, 130 * 1.55 * 1.1))
    picked = chain_ladder(tri, selected={12: 1.6})
    assert picked.factors == pytest.approx((1.6, 1.1))
    assert picked.selected == ((12, 1.6),)
    assert picked.ultimate[2] == pytest.approx(130 * 1.6 * 1.1)
    tailed = chain_ladder(tri, tail=1.05)
    assert tailed.cdf == pytest.approx((342 / 220 * 1.1 * 1.05, 1.1 * 1.05, 1.05))
    assert tailed.ultimate[0] == pytest.approx(165 * 1.05)
    with pytest.raises(ReservingError, match="age 36"):
        chain_ladder(tri, selected={36: 1.2})
    with pytest.raises(ReservingError, match="tail"):
        chain_ladder(tri, tail=0.0)
    with pytest.raises(ReservingError, match="unknown average"):
        chain_ladder(tri, average="median")  # type: ignore[arg-type]


def test_a_factor_with_nothing_to_average_is_one() -> None:
    tri = Triangle(("2021", "2022"), (12, 24), np.array([[0.0, 0.0], [5.0, NAN]]), "paid")
    assert chain_ladder(tri).factors == (1.0,)
    assert chain_ladder(tri, average="simple").factors == (1.0,)


def test_bornhuetter_ferguson_by_hand() -> None:
    bf = bornhuetter_ferguson(small(), PREMIUM, 0.7)
    f12, f24 = Fraction(342, 220), Fraction(11, 10)
    cdf = [Fraction(1), f24, f12 * f24]
    expected_ibnr = [
        Fraction(7, 10) * p * (1 - 1 / c) for p, c in zip([250, 300, 350], cdf, strict=True)
    ]
    assert bf.method == "bornhuetter_ferguson"
    assert bf.elr == (0.7, 0.7, 0.7)
    assert bf.premium == (250.0, 300.0, 350.0)
    assert bf.ibnr == pytest.approx([float(x) for x in expected_ibnr], rel=1e-12)
    assert bf.ultimate == pytest.approx(
        [165 + 0.0, 192 + float(expected_ibnr[1]), 130 + float(expected_ibnr[2])]
    )
    assert bf.percent_unreported[1] == pytest.approx(1 / 11)
    assert bf.total_ibnr == pytest.approx(float(sum(expected_ibnr)))
    by_origin = bornhuetter_ferguson(small(), PREMIUM, {"2021": 0.5, "2022": 0.6, "2023": 0.7})
    assert by_origin.expected == pytest.approx((125.0, 180.0, 245.0))


def test_cape_cod_by_hand() -> None:
    cc = cape_cod(small(), PREMIUM)
    f12, f24 = Fraction(342, 220), Fraction(11, 10)
    cdf = [Fraction(1), f24, f12 * f24]
    used_up = [Fraction(p) / c for p, c in zip([250, 300, 350], cdf, strict=True)]
    elr = Fraction(165 + 192 + 130) / sum(used_up)
    assert cc.method == "cape_cod"
    assert cc.elr == pytest.approx([float(elr)] * 3, rel=1e-12)
    assert cc.used_up_premium == pytest.approx([float(u) for u in used_up])
    ibnr = [elr * p * (1 - 1 / c) for p, c in zip([250, 300, 350], cdf, strict=True)]
    assert cc.ibnr == pytest.approx([float(x) for x in ibnr], rel=1e-12)
    # Cape Cod's ELR makes the expected claims on used-up premium equal the reported claims.
    assert math.fsum(
        r * u for r, u in zip(cc.elr, cc.used_up_premium, strict=True)
    ) == pytest.approx(487)


def test_premium_and_elr_are_checked() -> None:
    with pytest.raises(ReservingError, match="missing"):
        cape_cod(small(), {"2021": Decimal(1)})
    with pytest.raises(ReservingError, match="positive Decimal"):
        cape_cod(small(), {**PREMIUM, "2022": Decimal("-1")})
    with pytest.raises(ReservingError, match="every origin"):
        bornhuetter_ferguson(small(), PREMIUM, {"2021": 0.5})
    with pytest.raises(ReservingError, match="finite"):
        bornhuetter_ferguson(small(), PREMIUM, math.inf)


def test_results_round_trip_through_json_exactly() -> None:
    tri = raa()
    cl = chain_ladder(tri, selected={12: 2.9}, tail=1.01)
    assert ChainLadder.from_json(cl.to_json()) == cl
    for method in ("log-linear", "mack"):
        m = mack(tri, sigma="mack" if method == "mack" else "log-linear", tail=1.01)
        again = MackResult.from_json(m.to_json())
        assert again == m
        assert again.to_json() == m.to_json()
    premium = {o: Decimal("30000.00") for o in tri.origins}
    for result in (bornhuetter_ferguson(tri, premium, 0.6), cape_cod(tri, premium)):
        assert ExpectedLossResult.from_json(result.to_json()) == result
    assert '"sigma_method": "mack"' in mack(tri, sigma="mack").to_json()


# ---- properties -------------------------------------------------------------------------


def staircases(max_n: int = 7) -> st.SearchStrategy[Triangle]:
    """Square triangles with cumulative values that never go down (every factor >= 1)."""

    def build(rows: list[list[int]]) -> Triangle:
        n = len(rows)
        inc = np.array(rows, dtype=np.float64)
        inc[:, 0] += 1  # a positive first value
        for i in range(n):
            inc[i, n - i :] = NAN
        return Triangle.from_incremental(
            tuple(str(2000 + i) for i in range(n)),
            tuple(12 * (k + 1) for k in range(n)),
            inc,
            "paid",
        )

    return (
        st.integers(2, max_n)
        .flatmap(
            lambda n: st.lists(
                st.lists(st.integers(0, 10**6), min_size=n, max_size=n), min_size=n, max_size=n
            )
        )
        .map(build)
    )


@given(staircases(), st.sampled_from(["volume", "simple"]))
@settings(max_examples=80, deadline=None)
def test_ultimate_is_at_least_latest_when_factors_are_at_least_one(
    tri: Triangle, average: str
) -> None:
    cl = chain_ladder(tri, average="simple" if average == "simple" else "volume")
    assert all(f >= 1 for f in cl.factors)
    assert all(u >= c - 1e-9 * c for u, c in zip(cl.ultimate, cl.latest, strict=True))
    assert cl.total_ibnr >= -1e-9 * cl.total_latest


@given(staircases(), st.floats(0.3, 1.5))
@settings(max_examples=60, deadline=None)
def test_bf_with_the_chain_ladder_loss_ratio_is_the_chain_ladder(tri: Triangle, lr: float) -> None:
    cl = chain_ladder(tri)
    premium = {
        o: Decimal(f"{max(u / lr, 1):.2f}") for o, u in zip(tri.origins, cl.ultimate, strict=True)
    }
    implied = {o: u / float(premium[o]) for o, u in zip(tri.origins, cl.ultimate, strict=True)}
    bf = bornhuetter_ferguson(tri, premium, implied)
    assert bf.ultimate == pytest.approx(cl.ultimate, rel=1e-9, abs=1e-6)


@given(staircases(6), st.floats(0.01, 1000))
@settings(max_examples=60, deadline=None)
def test_scaling_the_triangle_scales_the_results(tri: Triangle, c: float) -> None:
    cl, big = chain_ladder(tri), chain_ladder(tri.scaled(c))
    assert big.factors == pytest.approx(cl.factors, rel=1e-9)
    assert big.ibnr == pytest.approx([c * r for r in cl.ibnr], rel=1e-9, abs=1e-6)
    if len(tri.ages) >= 4:  # log-linear needs two estimable sigmas
        try:
            m = mack(tri)
        except ReservingError:
            return  # every sigma was zero: nothing to extrapolate from
        scaled = mack(tri.scaled(c))
        assert scaled.se == pytest.approx([c * s for s in m.se], rel=1e-6, abs=1e-6)
        assert scaled.total_se == pytest.approx(c * m.total_se, rel=1e-6, abs=1e-6)
    premium = {o: Decimal(1000) for o in tri.origins}
    cc, cc_big = cape_cod(tri, premium), cape_cod(tri.scaled(c), premium)
    assert cc_big.ibnr == pytest.approx([c * r for r in cc.ibnr], rel=1e-9, abs=1e-6)


def test_a_triangle_without_variability_has_no_mack_error() -> None:
    rows = [[100, 200, 220, 231], [50, 100, 110], [10, 20], [7]]
    m = mack(triangle(rows, 2020))
    assert m.sigma == (0.0, 0.0, 0.0)
    assert m.total_se == 0.0
    assert m.chain_ladder.factors == pytest.approx((2.0, 1.1, 1.05))


def test_zero_first_values_still_count_in_the_volume_average() -> None:
    values = np.array([[0.0, 10.0], [5.0, 10.0], [4.0, NAN]])
    tri = Triangle(("2021", "2022", "2023"), (12, 24), values, "reported_count")
    assert chain_ladder(tri).factors == (4.0,)  # (10 + 10) / (0 + 5)
    assert chain_ladder(tri, average="simple").factors == (2.0,)  # 0 has no link ratio


def test_generalized_cape_cod_decay() -> None:
    tri = small()
    classic = cape_cod(tri, PREMIUM)
    assert classic.decay == 1.0
    assert cape_cod(tri, PREMIUM, decay=1.0).elr == classic.elr
    # A decay of 0 weights only the origin itself: its own chain-ladder loss ratio, and so
    # the chain-ladder ultimate (Gluck 1997).
    own = cape_cod(tri, PREMIUM, decay=0.0)
    cl = chain_ladder(tri)
    assert own.ultimate == pytest.approx(cl.ultimate, rel=1e-12)
    half = cape_cod(tri, PREMIUM, decay=0.5)
    used = half.used_up_premium
    latest = (165.0, 192.0, 130.0)
    w = [0.25, 0.5, 1.0]  # for the 2023 origin
    expected = sum(a * b for a, b in zip(w, latest, strict=True)) / sum(
        a * b for a, b in zip(w, used, strict=True)
    )
    assert half.elr[2] == pytest.approx(expected, rel=1e-12)
    assert ExpectedLossResult.from_json(half.to_json()) == half
    with pytest.raises(ReservingError, match="decay"):
        cape_cod(tri, PREMIUM, decay=1.5)


@given(staircases(6), st.floats(1.0, 1.2), st.sampled_from(["log-linear", "mack"]))
@settings(max_examples=50, deadline=None)
def test_mack_properties_and_exact_json(tri: Triangle, tail: float, sigma: str) -> None:
    method: SigmaMethod = "mack" if sigma == "mack" else "log-linear"
    scaled = tri.scaled(1.37)  # values that are not whole numbers
    try:
        m = mack(scaled, sigma=method, tail=tail)
    except ReservingError:
        return  # too little variability to extrapolate a sigma from
    assert MackResult.from_json(m.to_json()) == m
    # Origins share the estimated factors: the total is at least the quadrature sum.
    assert m.total_se >= math.sqrt(math.fsum(s * s for s in m.se)) * (1 - 1e-9)
    assert all(s >= 0 for s in m.se)
    if tail == 1.0:
        assert m.se[0] == 0.0  # the oldest origin is fully developed


def test_the_stored_rows_read_as_a_table() -> None:
    rows = chain_ladder(small()).to_dict()["origins"]
    assert rows[1] == {
        "origin": "2022",
        "latest_age": 24,
        "latest": 192.0,
        "cdf": pytest.approx(1.1),
        "ultimate": pytest.approx(211.2),
        "ibnr": pytest.approx(19.2),
    }
