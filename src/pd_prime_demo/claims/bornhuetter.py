"""Bornhuetter-Ferguson and Cape Cod reserve estimates from a triangle and earned premium.

Friedland, *Estimating Unpaid Claims Using Basic Techniques* (CAS, 2010):

* Bornhuetter-Ferguson (chapter 9): the expected claims ``E_i = ELR_i x P_i`` (the a priori
  expected loss ratio times the earned premium); the percent unreported
  ``1 - 1 / CDF_i`` from the chain-ladder age-to-ultimate factor at the origin's latest age;
  ``IBNR_i = E_i x (1 - 1 / CDF_i)`` and ``U_i = C_i,latest + IBNR_i``.
* Cape Cod, or Stanard-Buhlmann (chapter 10): one ELR for every origin, taken from the data
  itself: ``ELR = sum_i C_i,latest / sum_i (P_i / CDF_i)``, the reported claims over the
  "used-up" premium; then as Bornhuetter-Ferguson with that ELR. With a ``decay`` d < 1
  (Gluck 1997, "Balancing development and trend in loss reserve analyses", the generalized
  Cape Cod) each origin i gets its own ELR, the other origins j weighted by ``d^|i-j|``.

Earned premium comes in as :class:`~decimal.Decimal` money by origin label and is a float
inside (the estimate is a float computation; the caller formats it). The results are frozen
dataclasses with the chain-ladder estimate whose factors they used, and a ``to_json`` /
``from_json`` that round-trips exactly (floats written as their shortest repr).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pd_prime_demo.claims.chainladder import Average, ChainLadder, chain_ladder
from pd_prime_demo.claims.triangles import ReservingError, Triangle

ExpectedMethod = Literal["bornhuetter_ferguson", "cape_cod"]
EXPECTED_METHODS: tuple[ExpectedMethod, ...] = ("bornhuetter_ferguson", "cape_cod")


@dataclass(frozen=True)
class ExpectedLossResult:
    """A Bornhuetter-Ferguson or Cape Cod estimate with everything needed to show it again."""

    method: ExpectedMethod
    chain_ladder: ChainLadder  # the development pattern used (factors, tail, CDFs)
    premium: tuple[float, ...]  # earned premium per origin
    elr: tuple[float, ...]  # the expected loss ratio applied per origin
    used_up_premium: tuple[float, ...]  # P_i / CDF_i
    percent_unreported: tuple[float, ...]  # 1 - 1 / CDF_i
    expected: tuple[float, ...]  # ELR_i x P_i
    latest: tuple[float, ...]
    ibnr: tuple[float, ...]
    ultimate: tuple[float, ...]
    decay: float | None = None  # Cape Cod's; None for Bornhuetter-Ferguson

    @property
    def total_premium(self) -> float:
        return math.fsum(self.premium)

    @property
    def total_latest(self) -> float:
        return math.fsum(self.latest)

    @property
    def total_ibnr(self) -> float:
        return math.fsum(self.ibnr)

    @property
    def total_ultimate(self) -> float:
        return math.fsum(self.ultimate)

    @property
    def loss_ratio(self) -> tuple[float, ...]:
        """Per origin, the estimated ultimate over the earned premium."""
        return tuple(u / p for u, p in zip(self.ultimate, self.premium, strict=True))

    def to_dict(self) -> dict[str, Any]:
        tri = self.chain_ladder.triangle
        names = ("premium", "elr", "used_up_premium", "percent_unreported", "expected")
        columns = [*(getattr(self, n) for n in names), self.latest, self.ibnr, self.ultimate]
        rows = [
            {
                "origin": origin,
                **dict(
                    zip(
                        (*names, "latest", "ibnr", "ultimate"), (c[i] for c in columns), strict=True
                    )
                ),
            }
            for i, origin in enumerate(tri.origins)
        ]
        return {
            "method": self.method,
            "decay": self.decay,
            "chain_ladder": self.chain_ladder.to_dict(),
            "origins": rows,
            "totals": {
                "premium": self.total_premium,
                "latest": self.total_latest,
                "ibnr": self.total_ibnr,
                "ultimate": self.total_ultimate,
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExpectedLossResult:
        method = str(data["method"])
        if method not in EXPECTED_METHODS:
            raise ReservingError(f"unknown method {method!r}")
        rows = data["origins"]

        def column(name: str) -> tuple[float, ...]:
            return tuple(float(r[name]) for r in rows)

        return cls(
            method=method,
            chain_ladder=ChainLadder.from_dict(data["chain_ladder"]),
            premium=column("premium"),
            elr=column("elr"),
            used_up_premium=column("used_up_premium"),
            percent_unreported=column("percent_unreported"),
            expected=column("expected"),
            latest=column("latest"),
            ibnr=column("ibnr"),
            ultimate=column("ultimate"),
            decay=None if data.get("decay") is None else float(data["decay"]),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ExpectedLossResult:
        return cls.from_dict(json.loads(text))


def _premium(tri: Triangle, premium: Mapping[str, Decimal]) -> list[float]:
    extra = sorted(set(premium) - set(tri.origins))
    missing = [o for o in tri.origins if o not in premium]
    if missing or extra:
        raise ReservingError(
            f"earned premium by origin: missing {missing or 'none'}, unknown {extra or 'none'}"
        )
    values = []
    for origin in tri.origins:
        amount = premium[origin]
        if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
            raise ReservingError(f"earned premium of {origin}: a positive Decimal, not {amount!r}")
        values.append(float(amount))
    return values


def _elr(tri: Triangle, elr: float | Mapping[str, float]) -> list[float]:
    if isinstance(elr, Mapping):
        if set(elr) != set(tri.origins):
            raise ReservingError("the expected loss ratios must name every origin, and only them")
        ratios = [float(elr[o]) for o in tri.origins]
    else:
        ratios = [float(elr)] * len(tri.origins)
    for origin, ratio in zip(tri.origins, ratios, strict=True):
        if not math.isfinite(ratio) or ratio < 0:
            raise ReservingError(f"expected loss ratio of {origin}: finite and >= 0, not {ratio}")
    return ratios


def _estimate(
    method: ExpectedMethod,
    cl: ChainLadder,
    premium: list[float],
    elr: list[float],
    decay: float | None = None,
) -> ExpectedLossResult:
    cdf = cl.origin_cdf()
    unreported = [1.0 - 1.0 / f for f in cdf]
    expected = [r * p for r, p in zip(elr, premium, strict=True)]
    ibnr = [e * u for e, u in zip(expected, unreported, strict=True)]
    return ExpectedLossResult(
        method=method,
        chain_ladder=cl,
        premium=tuple(premium),
        elr=tuple(elr),
        used_up_premium=tuple(p / f for p, f in zip(premium, cdf, strict=True)),
        percent_unreported=tuple(unreported),
        expected=tuple(expected),
        latest=cl.latest,
        ibnr=tuple(ibnr),
        ultimate=tuple(c + r for c, r in zip(cl.latest, ibnr, strict=True)),
        decay=decay,
    )


def bornhuetter_ferguson(
    tri: Triangle,
    premium: Mapping[str, Decimal],
    elr: float | Mapping[str, float],
    *,
    average: Average = "volume",
    selected: Mapping[int, float] | None = None,
    tail: float = 1.0,
) -> ExpectedLossResult:
    """Bornhuetter-Ferguson with an a priori loss ratio (one for all, or one per origin) and
    the chain-ladder development pattern (``average``, ``selected``, ``tail`` as for
    :func:`~pd_prime_demo.claims.chainladder.chain_ladder`)."""
    cl = chain_ladder(tri, average=average, selected=selected, tail=tail)
    return _estimate("bornhuetter_ferguson", cl, _premium(tri, premium), _elr(tri, elr))


def cape_cod(
    tri: Triangle,
    premium: Mapping[str, Decimal],
    *,
    decay: float = 1.0,
    average: Average = "volume",
    selected: Mapping[int, float] | None = None,
    tail: float = 1.0,
) -> ExpectedLossResult:
    """Cape Cod: the ELR is the reported claims over the used-up premium; with ``decay`` in
    [0, 1), the generalized form weighting origin j by ``decay^|i-j|`` for origin i."""
    decay = float(decay)
    if not 0 <= decay <= 1:
        raise ReservingError(f"the Cape Cod decay must be in [0, 1], not {decay}")
    cl = chain_ladder(tri, average=average, selected=selected, tail=tail)
    amounts = _premium(tri, premium)
    used_up = [p / f for p, f in zip(amounts, cl.origin_cdf(), strict=True)]
    n = len(amounts)
    ratios = []
    for i in range(n):
        weights = [decay ** abs(i - j) for j in range(n)]  # 0.0 ** 0 is 1
        reported = math.fsum(w * c for w, c in zip(weights, cl.latest, strict=True))
        ratios.append(reported / math.fsum(w * u for w, u in zip(weights, used_up, strict=True)))
    return _estimate("cape_cod", cl, amounts, ratios, decay)
