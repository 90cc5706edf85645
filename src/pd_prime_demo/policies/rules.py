"""Pure policy arithmetic: terms, proration, cancellation methods, earning, installments.

Money is Decimal, rounded half-up to the cent at each stated step. Premium is earned daily
pro-rata: on day D (inclusive) of a span [start, end) the earned share is
``clamp(D - start + 1, 0, end - start) / (end - start)``.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, ROUND_HALF_UP)


def add_months(start: date, months: int) -> date:
    """Calendar months later, clamped to the month's last day (Jan 31 + 1 = Feb 28 or 29)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def prorate(amount: Decimal, start: date, end: date, from_day: date) -> Decimal:
    """The share of ``amount`` for [from_day, end) out of [start, end), to the cent."""
    total = (end - start).days
    remaining = min(max((end - from_day).days, 0), total)
    return cents(amount * remaining / total)


@dataclass(frozen=True, slots=True)
class ShortRate:
    up_to_percent: Decimal
    earned_percent: Decimal


def earned_at_cancellation(
    method: str,
    premium: Decimal,
    start: date,
    end: date,
    cancel_on: date,
    *,
    short_rate: tuple[ShortRate, ...] = (),
    minimum_earned: Decimal | None = None,
) -> Decimal:
    """Premium the carrier keeps when the term is cancelled effective ``cancel_on``.

    ``flat``: nothing is earned (cancellation from inception). ``pro_rata``: the days in force.
    ``short_rate``: the product's table, by the share of the term in force (a penalty for
    leaving early). A product's minimum earned premium applies to the last two, never above
    the premium itself.
    """
    if method == "flat":
        return ZERO
    in_force = (premium - prorate(premium, start, end, cancel_on)).copy_abs()
    if method == "short_rate":
        elapsed = Decimal((cancel_on - start).days) * 100 / Decimal((end - start).days)
        row = next((r for r in short_rate if elapsed <= r.up_to_percent), None)
        share = row.earned_percent if row is not None else Decimal(100)
        in_force = max(in_force, cents(premium * share / 100))
    if minimum_earned is not None:
        in_force = max(in_force, minimum_earned)
    return min(in_force, premium)


@dataclass(frozen=True, slots=True)
class Earning:
    """A written amount earned evenly over [start, end); instantly when start == end."""

    amount: Decimal
    start: date
    end: date

    def earned_through(self, day: date) -> Decimal:
        total = (self.end - self.start).days
        if total <= 0:
            return self.amount if day >= self.start else ZERO
        elapsed = min(max((day - self.start).days + 1, 0), total)
        return cents(self.amount * elapsed / total)


def earnings_from_json(items: list[dict[str, str]]) -> list[Earning]:
    return [
        Earning(Decimal(e["amount"]), date.fromisoformat(e["start"]), date.fromisoformat(e["end"]))
        for e in items
    ]


def earned_through(earnings: list[Earning], day: date) -> Decimal:
    return sum((e.earned_through(day) for e in earnings), ZERO)


@dataclass(frozen=True, slots=True)
class Installment:
    seq: int
    due_on: date
    amount: Decimal
    fee: Decimal


PLAN_INSTALLMENTS = {"annual": 1, "semi_annual": 2, "quarterly": 4, "monthly": 12}


def installment_schedule(
    total: Decimal, start: date, term_months: int, plan: str, installment_fee: Decimal
) -> list[Installment]:
    """Equal installments over the term, at the plan's spacing; leftover cents go first.

    The first installment is due at inception; every later one carries the plan's fee.
    """
    per_year = PLAN_INSTALLMENTS[plan]
    step = 12 // per_year  # months between installments
    count = max(1, term_months // step)  # a six-month term pays quarterly twice
    base = (total / count).quantize(CENT, rounding="ROUND_DOWN")
    first = total - base * (count - 1)
    return [
        Installment(
            seq=i + 1,
            due_on=add_months(start, step * i),
            amount=first if i == 0 else base,
            fee=ZERO if i == 0 else installment_fee,
        )
        for i in range(count)
    ]


def days(n: int) -> timedelta:
    return timedelta(days=n)
