"""What the carrier keeps when a term is cancelled: flat, pro-rata, short-rate, or a
percentage of the pro-rata return.

``flat``: nothing is earned (cancellation from inception). ``pro_rata``: the share of the term
in force. ``short_rate``: the product's table, a penalty for leaving early, never less than
pro-rata; its rows are keyed by the percent of the term elapsed or by the days in force (from
the term's start to the cancellation date, that date not counted), and the first row whose
bound is at or above the elapsed value applies (beyond the last row, everything is earned).
``percent_of_pro_rata``: the insured gets back that percentage of the pro-rata return (e.g.
90%). A product's minimum earned premium applies to every method but flat, never above the
premium itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pd_prime_demo.premium.proration import Proration, cents, prorate


class CancellationMethod(enum.StrEnum):
    FLAT = "flat"
    PRO_RATA = "pro_rata"
    SHORT_RATE = "short_rate"
    PERCENT_OF_PRO_RATA = "percent_of_pro_rata"


class ShortRateBasis(enum.StrEnum):
    PERCENT_OF_TERM = "percent_of_term"
    DAYS_IN_FORCE = "days_in_force"


@dataclass(frozen=True, slots=True)
class ShortRate:
    """Cancelled within ``up_to`` (percent of term, or days in force): ``earned_percent`` kept."""

    up_to: Decimal
    earned_percent: Decimal


@dataclass(frozen=True, slots=True)
class CancellationTerms:
    """A product's cancellation rules, as the arithmetic needs them."""

    short_rate: tuple[ShortRate, ...] = ()
    short_rate_basis: ShortRateBasis = ShortRateBasis.PERCENT_OF_TERM
    return_percent_of_pro_rata: Decimal | None = None
    minimum_earned: Decimal | None = None
    proration: Proration = Proration.DAYS


def earned_at_cancellation(
    method: CancellationMethod | str,
    premium: Decimal,
    start: date,
    end: date,
    cancel_on: date,
    terms: CancellationTerms = CancellationTerms(),
) -> Decimal:
    """Premium the carrier keeps when the term [start, end) is cancelled effective ``cancel_on``."""
    method = CancellationMethod(method)
    if method is CancellationMethod.FLAT:
        return Decimal(0)
    unearned = prorate(premium, start, end, cancel_on, terms.proration)
    in_force = (premium - unearned).copy_abs()
    if method is CancellationMethod.SHORT_RATE:
        if terms.short_rate_basis is ShortRateBasis.DAYS_IN_FORCE:
            elapsed = Decimal((cancel_on - start).days)
        else:
            elapsed = Decimal((cancel_on - start).days) * 100 / Decimal((end - start).days)
        row = next((r for r in terms.short_rate if elapsed <= r.up_to), None)
        share = row.earned_percent if row is not None else Decimal(100)
        in_force = max(in_force, cents(premium * share / 100))
    elif method is CancellationMethod.PERCENT_OF_PRO_RATA:
        percent = terms.return_percent_of_pro_rata
        returned = cents(unearned * percent / 100) if percent is not None else unearned
        in_force = premium - returned
    if terms.minimum_earned is not None:
        in_force = max(in_force, terms.minimum_earned)
    return min(in_force, premium)
