"""Pure billing arithmetic: installment schedules.

Money is Decimal, rounded to the cent at each stated step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
