"""Pure policy arithmetic: months, proration, cancellation, earning, installments."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pd_prime_demo.billing.rules import installment_schedule
from pd_prime_demo.premium.cancellation import CancellationTerms, ShortRate, earned_at_cancellation
from pd_prime_demo.premium.earning import Earning, earned_through
from pd_prime_demo.premium.proration import add_months, cents, prorate

money = st.decimals(min_value=Decimal("1"), max_value=Decimal("50000"), places=2)
days_ = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
SHORT_RATE = (
    ShortRate(Decimal(10), Decimal(19)),
    ShortRate(Decimal(50), Decimal(60)),
    ShortRate(Decimal(100), Decimal(100)),
)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year month end
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # leap day anniversary
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),  # year boundary
    ],
)
def test_add_months_clamps_to_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


def test_proration_over_a_leap_year_term() -> None:
    start, end = date(2024, 1, 1), date(2025, 1, 1)  # 366 days
    assert prorate(Decimal("366.00"), start, end, date(2024, 12, 31)) == Decimal("1.00")
    assert prorate(Decimal("366.00"), start, end, start) == Decimal("366.00")
    assert prorate(Decimal("366.00"), start, end, end) == Decimal("0.00")


@given(
    premium=money,
    start=days_,
    months=st.sampled_from([6, 12]),
    offset=st.integers(0, 400),
    method=st.sampled_from(["flat", "pro_rata", "short_rate"]),
    minimum=st.none() | money,
)
def test_refund_never_exceeds_premium(
    premium: Decimal, start: date, months: int, offset: int, method: str, minimum: Decimal | None
) -> None:
    end = add_months(start, months)
    cancel_on = min(start + timedelta(days=offset), end)
    kept = earned_at_cancellation(
        method,
        premium,
        start,
        end,
        cancel_on,
        CancellationTerms(short_rate=SHORT_RATE, minimum_earned=minimum),
    )
    returned = premium - kept
    assert Decimal(0) <= kept <= premium
    assert Decimal(0) <= returned <= premium
    if method == "short_rate" and minimum is None:
        pro_rata = earned_at_cancellation("pro_rata", premium, start, end, cancel_on)
        assert kept >= pro_rata, "short-rate never returns more than pro-rata"


@given(
    amounts=st.lists(
        st.decimals(min_value=Decimal("-5000"), max_value=Decimal("5000"), places=2),
        min_size=1,
        max_size=6,
    ),
    start=days_,
    lengths=st.lists(st.integers(0, 400), min_size=6, max_size=6),
    day=days_,
)
def test_earned_plus_unearned_is_written(
    amounts: list[Decimal], start: date, lengths: list[int], day: date
) -> None:
    earnings = [
        Earning(a, start, start + timedelta(days=n)) for a, n in zip(amounts, lengths, strict=False)
    ]
    written = sum(amounts, Decimal(0))
    earned = earned_through(earnings, day)
    unearned = written - earned
    assert earned + unearned == written
    if day >= max(e.end for e in earnings):
        assert earned == written, "everything is earned once every span has ended"
    if day < start:
        assert earned == 0


@given(
    total=money,
    start=days_,
    months=st.sampled_from([6, 12]),
    plan=st.sampled_from(["annual", "semi_annual", "quarterly", "monthly"]),
)
def test_installments_sum_to_the_total(total: Decimal, start: date, months: int, plan: str) -> None:
    schedule = installment_schedule(total, start, months, plan, Decimal("5"))
    assert sum(i.amount for i in schedule) == total
    assert schedule[0].due_on == start
    assert schedule[0].fee == 0
    assert all(i.due_on < add_months(start, months) for i in schedule)
    assert [i.seq for i in schedule] == list(range(1, len(schedule) + 1))


def test_merge_patch_follows_rfc_7396_appendix_a() -> None:
    from pd_prime_demo.policies.rules import merge_patch

    # RFC 7396 appendix A, every example.
    cases: list[tuple[Any, Any, Any]] = [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ]
    for target, patch, expected in cases:
        assert merge_patch(target, patch) == expected, (target, patch)


def test_conflicting_fields_of_two_changes() -> None:
    from pd_prime_demo.policies.rules import FieldConflict, conflicts, without

    new = {"coverages": {"bi": {"limit": "100/300"}}, "risk": {"policy": {"territory": "dallas"}}}
    later = {"coverages": {"bi": {"limit": "250/500"}, "pd": {"limit": "100"}}}
    assert conflicts(new, later) == [FieldConflict("/coverages/bi/limit", "100/300", "250/500")]
    assert conflicts(new, {"coverages": {"bi": {"limit": "100/300"}}}) == [], "same value"
    assert without(later, {"/coverages/bi/limit"}) == {"coverages": {"pd": {"limit": "100"}}}
    whole = {"risk": {"vehicles": [{"symbol": "A"}]}}
    assert conflicts({"risk": {"vehicles": [{"symbol": "B"}]}}, whole)[0].field == "/risk/vehicles"


@given(
    start=days_,
    months=st.integers(1, 36),
    k=st.integers(0, 36),
    amount=money,
)
def test_by_months_each_month_weighs_the_same(
    start: date, months: int, k: int, amount: Decimal
) -> None:
    from fractions import Fraction

    from pd_prime_demo.premium.proration import Proration, elapsed

    end = add_months(start, months)
    k = min(k, months)
    assert elapsed(start, end, add_months(start, k), Proration.MONTHS) == Fraction(k, months)
    remaining = prorate(amount, start, end, add_months(start, k), Proration.MONTHS)
    assert remaining == cents(amount * (months - k) / months)


def test_a_partial_month_counts_by_its_own_days() -> None:
    from fractions import Fraction

    from pd_prime_demo.premium.proration import Proration, elapsed

    start, end = date(2027, 1, 15), date(2027, 10, 15)  # nine months
    # 14 days into the 28-day month from Feb 15 to Mar 15: one month and a half, of nine.
    assert elapsed(start, end, date(2027, 3, 1), Proration.MONTHS) == Fraction(3, 2) / 9
    assert elapsed(start, end, date(2027, 3, 1), Proration.DAYS) == Fraction(45, 273)


@given(
    premium=money,
    start=days_,
    months=st.sampled_from([6, 9, 12]),
    offset=st.integers(1, 360),
)
def test_percent_of_pro_rata_and_short_rate_by_days_in_force(
    premium: Decimal, start: date, months: int, offset: int
) -> None:
    from pd_prime_demo.premium.cancellation import CancellationTerms, ShortRateBasis

    end = add_months(start, months)
    cancel_on = min(start + timedelta(days=offset), end - timedelta(days=1))
    pro_rata_return = prorate(premium, start, end, cancel_on)
    ninety = earned_at_cancellation(
        "percent_of_pro_rata",
        premium,
        start,
        end,
        cancel_on,
        CancellationTerms(return_percent_of_pro_rata=Decimal(90)),
    )
    assert premium - ninety == cents(pro_rata_return * Decimal("0.9"))
    table = (ShortRate(Decimal(30), Decimal(25)), ShortRate(Decimal(90), Decimal(50)))
    by_days = earned_at_cancellation(
        "short_rate",
        premium,
        start,
        end,
        cancel_on,
        CancellationTerms(short_rate=table, short_rate_basis=ShortRateBasis.DAYS_IN_FORCE),
    )
    in_force = (cancel_on - start).days
    share = Decimal(25) if in_force <= 30 else Decimal(50) if in_force <= 90 else Decimal(100)
    assert by_days == min(premium, max(premium - pro_rata_return, cents(premium * share / 100)))


@given(
    amount=st.decimals(min_value=Decimal("-5000"), max_value=Decimal("5000"), places=2),
    start=days_,
    months=st.integers(1, 24),
    offset=st.integers(0, 400),
    day_offset=st.integers(-10, 800),
)
def test_earning_by_months_reaches_the_amount_at_the_end(
    amount: Decimal, start: date, months: int, offset: int, day_offset: int
) -> None:
    from pd_prime_demo.premium.proration import Proration

    end = add_months(start, months)
    piece_start = min(start + timedelta(days=offset), end)
    piece = Earning(amount, piece_start, end, Proration.MONTHS, (start, end))
    day = start + timedelta(days=day_offset)
    earned = piece.earned_through(day)
    assert abs(earned) <= abs(amount)
    if day >= end:
        assert earned == amount
    if day < piece_start:
        assert earned == 0
    assert Earning.from_json(piece.to_json()) == piece
