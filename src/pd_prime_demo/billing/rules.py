"""Pure billing arithmetic: installment schedules.

Money is Decimal, rounded to the cent at each stated step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_DOWN, Decimal

from pd_prime_demo.billing.enums import PaymentPlanCode
from pd_prime_demo.premium.proration import CENT, ZERO, add_months

PLAN_INSTALLMENTS = {
    PaymentPlanCode.ANNUAL: 1,
    PaymentPlanCode.SEMI_ANNUAL: 2,
    PaymentPlanCode.QUARTERLY: 4,
    PaymentPlanCode.MONTHLY: 12,
}


@dataclass(frozen=True, slots=True)
class Installment:
    seq: int
    due_on: date
    amount: Decimal
    fee: Decimal


def installment_schedule(
    total: Decimal, start: date, term_months: int, plan: str, installment_fee: Decimal
) -> list[Installment]:
    """Equal installments over the term, at the plan's spacing; leftover cents go first.

    The first installment is due at inception; every later one carries the plan's fee. A term
    that is not a multiple of the spacing gets one installment for each started period (a
    nine-month term on a semi-annual plan pays at months 0 and 6).
    """
    step = 12 // PLAN_INSTALLMENTS[PaymentPlanCode(plan)]  # months between installments
    count = max(1, math.ceil(term_months / step))
    base = (total / count).quantize(CENT, rounding=ROUND_DOWN)
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


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """An installment as fitting sees it."""

    seq: int
    due_on: date
    amount: Decimal
    invoiced: bool
    cancelled_on: date | None = None


@dataclass(frozen=True, slots=True)
class Fitted:
    rows: tuple[ScheduleRow, ...]  # the given rows, in the given order, as they now stand
    added: ScheduleRow | None  # a new installment, when nothing open can take the amount


def fit_schedule(
    rows: list[ScheduleRow],
    *,
    target: Decimal,
    cover_ends_on: date | None,
    today: date,
    due_if_new: date,
) -> Fitted:
    """Fit a term's installments to what the term now bills in all (``target``).

    Invoiced installments are fixed. An installment not yet invoiced is live if cover lasts to
    its due date (one voided by a cancellation comes back with a reinstatement, due no earlier
    than today). What the term bills beyond its invoices is spread evenly over the live
    installments not yet invoiced (leftover cents on the first); if none is live, a new one is
    due ``due_if_new``. When the invoices already exceed the target, nothing is left to bill:
    the open installments are voided and the excess is a credit on the account.
    """
    invoiced = sum((r.amount for r in rows if r.invoiced), ZERO)
    remaining = target - invoiced
    fitted: list[ScheduleRow] = []
    open_index: list[int] = []
    for row in rows:
        if row.invoiced:
            fitted.append(row)
            continue
        if cover_ends_on is not None and row.due_on >= cover_ends_on:
            fitted.append(replace(row, cancelled_on=row.cancelled_on or cover_ends_on))
            continue
        due_on = row.due_on if row.cancelled_on is None else max(row.due_on, today)
        open_index.append(len(fitted))
        fitted.append(replace(row, due_on=due_on, cancelled_on=None))
    if remaining <= 0:
        for i in open_index:
            fitted[i] = replace(fitted[i], amount=ZERO, cancelled_on=today)
        return Fitted(tuple(fitted), None)
    if not open_index:
        seq = max((r.seq for r in rows), default=0) + 1
        return Fitted(tuple(fitted), ScheduleRow(seq, due_if_new, remaining, invoiced=False))
    base = (remaining / len(open_index)).quantize(CENT, rounding=ROUND_DOWN)
    first = remaining - base * (len(open_index) - 1)
    for n, i in enumerate(open_index):
        fitted[i] = replace(fitted[i], amount=first if n == 0 else base)
    return Fitted(tuple(fitted), None)
