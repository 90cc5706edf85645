"""Terms in calendar months, and the share of a term that lies after a day.

Proration is by days (the default: every day of the term weighs the same) or by months (every
month of the term weighs the same, and a partial month counts by its own days), as the product
says. Both are exact rationals, rounded once, half-up to the cent.
"""

from __future__ import annotations

import calendar
import enum
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

CENT = Decimal("0.01")
ZERO = Decimal(0)


class Proration(enum.StrEnum):
    DAYS = "days"
    MONTHS = "months"


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


def add_months(start: date, months: int) -> date:
    """Calendar months later, clamped to the month's last day (Jan 31 + 1 = Feb 28 or 29)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _months_between(start: date, end: date) -> int | None:
    """n such that ``add_months(start, n) == end``, or None when the term is not whole months."""
    estimate = (end.year - start.year) * 12 + end.month - start.month
    for n in (estimate - 1, estimate, estimate + 1):
        if n > 0 and add_months(start, n) == end:
            return n
    return None


def elapsed(start: date, end: date, day: date, basis: Proration = Proration.DAYS) -> Fraction:
    """The share of the term [start, end) before ``day`` (``day`` itself not counted), 0 to 1.

    By months, each whole month from the term's start is 1/n of it and the month ``day`` falls
    in counts by its days; a term that is not a whole number of months is prorated by days.
    """
    if day <= start:
        return Fraction(0)
    if day >= end:
        return Fraction(1)
    months = _months_between(start, end) if basis is Proration.MONTHS else None
    if months is None:
        return Fraction((day - start).days, (end - start).days)
    done = _months_between(start, day) or 0
    # The last monthiversary on or before ``day``: add_months clamps, so step from the start.
    while done + 1 <= months and add_months(start, done + 1) <= day:
        done += 1
    while done > 0 and add_months(start, done) > day:
        done -= 1
    month_start, month_end = add_months(start, done), add_months(start, done + 1)
    partial = Fraction((day - month_start).days, (month_end - month_start).days)
    return (done + partial) / months


def share(amount: Decimal, fraction: Fraction) -> Decimal:
    """``amount`` times an exact fraction, to the cent."""
    return cents(amount * fraction.numerator / fraction.denominator)


def prorate(
    amount: Decimal, start: date, end: date, from_day: date, basis: Proration = Proration.DAYS
) -> Decimal:
    """The share of ``amount`` for [from_day, end) out of [start, end), to the cent."""
    return share(amount, 1 - elapsed(start, end, from_day, basis))
