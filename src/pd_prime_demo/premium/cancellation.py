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
from datetime import date, timedelta
from decimal import Decimal

from pd_prime_demo.premium.earning import Earning
from pd_prime_demo.premium.proration import ZERO, Proration, cents, elapsed, prorate, share


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


def unearned_from(piece: Earning, day: date) -> Decimal:
    """What one written piece leaves unearned from ``day`` (``day`` included), rounded on its
    own: the share of the piece for [day, its end), so a single piece written for the whole
    term gives exactly the pro-rata share of the term after ``day``."""
    if piece.end <= piece.start or day <= piece.start or day >= piece.end:
        return piece.amount - piece.earned_through(day - timedelta(days=1))
    term_start, term_end = piece.term or (piece.start, piece.end)
    basis = piece.basis if piece.term is not None else Proration.DAYS
    low = elapsed(term_start, term_end, piece.start, basis)
    high = elapsed(term_start, term_end, piece.end, basis)
    now = elapsed(term_start, term_end, day, basis)
    return share(piece.amount, (high - now) / (high - low))


def returned_at_cancellation(
    method: CancellationMethod | str,
    written: Decimal,
    unearned: Decimal,
    start: date,
    end: date,
    cancel_on: date,
    terms: CancellationTerms = CancellationTerms(),
) -> Decimal:
    """Premium returned when the term [start, end) is cancelled effective ``cancel_on``.

    ``unearned`` is the pro-rata return: what the term's written pieces leave unearned from
    ``cancel_on``, each piece from the day it was written (a mid-term endorsement is not spread
    back over days it did not cover). Every method starts from it, so none returns more than
    pro rata (the penalty is never negative): pro rata returns it, a percentage of pro rata that
    share of it, short rate keeps the larger of what is earned and the table's share of the
    written premium, flat returns everything. A minimum earned premium raises what is kept,
    never above the written premium.
    """
    method = CancellationMethod(method)
    if method is CancellationMethod.FLAT:
        return written
    pro_rata = min(max(unearned, ZERO), written) if written > 0 else unearned
    keep = written - pro_rata
    if method is CancellationMethod.SHORT_RATE:
        if terms.short_rate_basis is ShortRateBasis.DAYS_IN_FORCE:
            gone = Decimal((cancel_on - start).days)
        else:
            gone = Decimal((cancel_on - start).days) * 100 / Decimal((end - start).days)
        row = next((r for r in terms.short_rate if gone <= r.up_to), None)
        kept = row.earned_percent if row is not None else Decimal(100)
        keep = max(keep, cents(written * kept / 100))
    elif method is CancellationMethod.PERCENT_OF_PRO_RATA:
        percent = terms.return_percent_of_pro_rata
        keep = written - (cents(pro_rata * percent / 100) if percent is not None else pro_rata)
    if terms.minimum_earned is not None:
        keep = max(keep, terms.minimum_earned)
    return written - min(keep, written) if written > 0 else pro_rata


def earned_at_cancellation(
    method: CancellationMethod | str,
    premium: Decimal,
    start: date,
    end: date,
    cancel_on: date,
    terms: CancellationTerms = CancellationTerms(),
) -> Decimal:
    """Premium the carrier keeps when a premium written on the term's first day for the whole
    term [start, end) is cancelled effective ``cancel_on`` (one piece: its pro-rata return is
    the share of the term after ``cancel_on``)."""
    unearned = prorate(premium, start, end, cancel_on, terms.proration)
    return premium - returned_at_cancellation(
        method, premium, unearned, start, end, cancel_on, terms
    )
