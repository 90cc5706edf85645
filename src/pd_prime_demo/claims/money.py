"""A claim's money, the pure rules: the reserve categories, what may be paid on an exposure
(its limit net of the deductible, the coverage's per-occurrence limit), how a payment uses the
reserve, whose authority covers a movement, and the ledger lines of each movement.

Policy decided here (and stated in the API and docs/claims.md): a payment with no reserve, or
above the reserve, first raises the reserve to the payment's amount (a reserve transaction with
the reason "raised to cover payment"), then takes it down by the payment. The raise is part of
the payment: it needs the same authority as a reserve of that amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from pd_prime_demo.billing.service import Account, Line, credit, debit
from pd_prime_demo.claims.enums import CostType

ZERO = Decimal(0)
CENT = Decimal("0.01")
RAISED_TO_COVER_PAYMENT = "raised to cover payment"
CLAIM_CLOSED = "claim closed"

# The reserve categories by cost type: a small closed vocabulary, so reports can group by it.
CATEGORIES: dict[CostType, tuple[str, ...]] = {
    CostType.INDEMNITY: (
        "vehicle_damage",
        "bodily_injury",
        "property_damage",
        "dwelling",
        "contents",
        "medical",
        "loss_of_use",
        "other",
    ),
    CostType.EXPENSE: ("legal", "adjusting", "appraisal", "other"),
}


def cents(amount: Decimal) -> Decimal:
    """An amount as the database keeps it (two places): what a response shows is then the
    same whether it was just posted or read back."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def category_known(cost_type: CostType, category: str) -> bool:
    return category in CATEGORIES[cost_type]


def payable_cap(
    limit_amount: Decimal | None, valuation: Decimal | None, deductible: Decimal
) -> Decimal | None:
    """The most indemnity one exposure may pay in all: its limit net of the deductible. On the
    valuation basis (no policy limit) the valuation is the limit; with both, the lower (a loss
    is never paid above its value). None: a valuation basis exposure not valued yet."""
    if limit_amount is None and valuation is None:
        return None
    bounds = [b for b in (limit_amount, valuation) if b is not None]
    return max(min(bounds) - deductible, ZERO)


@dataclass(frozen=True, slots=True)
class IndemnityRoom:
    """Why an indemnity payment does or does not fit."""

    exposure_room: Decimal | None  # None: not valued yet
    occurrence_room: Decimal | None  # None: no per-occurrence limit

    @property
    def available(self) -> Decimal | None:
        rooms = [r for r in (self.exposure_room, self.occurrence_room) if r is not None]
        if self.exposure_room is None:
            return None
        return max(min(rooms), ZERO)


def indemnity_room(
    *,
    limit_amount: Decimal | None,
    valuation: Decimal | None,
    deductible: Decimal,
    paid_on_exposure: Decimal,
    occurrence_limit: Decimal | None,
    paid_on_coverage: Decimal,
) -> IndemnityRoom:
    """What indemnity may still be paid on an exposure: its cap less what it paid, and the
    coverage's per-occurrence limit less what all the claim's exposures on it paid."""
    cap = payable_cap(limit_amount, valuation, deductible)
    exposure_room = None if cap is None else cap - paid_on_exposure
    occurrence_room = None if occurrence_limit is None else occurrence_limit - paid_on_coverage
    return IndemnityRoom(exposure_room, occurrence_room)


@dataclass(frozen=True, slots=True)
class PaymentPlan:
    """How a payment moves the reserve line: first raised by ``raise_by`` (when the reserve
    does not cover it), then taken down by ``reserve_used``."""

    raise_by: Decimal
    reserve_used: Decimal

    def reserve_after(self, reserve: Decimal) -> Decimal:
        return reserve + self.raise_by - self.reserve_used


def plan_payment(reserve: Decimal, amount: Decimal) -> PaymentPlan:
    raise_by = max(amount - reserve, ZERO)
    return PaymentPlan(raise_by=raise_by, reserve_used=amount)


@dataclass(frozen=True, slots=True)
class Authority:
    """What one may reserve on a line, and pay at once, without approval (per cost type)."""

    reserve_limit: Decimal
    payment_limit: Decimal


def reserve_within(authority: Authority | None, current: Decimal, new_reserve: Decimal) -> bool:
    """Taking a reserve down needs no authority; raising it needs authority for the new
    amount. No authority row means no authority at all."""
    if new_reserve <= current:
        return True
    return authority is not None and new_reserve <= authority.reserve_limit


def payment_within(authority: Authority | None, reserve: Decimal, amount: Decimal) -> bool:
    """A payment within the payment limit, and, where it raises the reserve, within the
    reserve limit for the raised reserve."""
    if authority is None or amount > authority.payment_limit:
        return False
    plan = plan_payment(reserve, amount)
    return plan.raise_by == 0 or reserve_within(authority, reserve, reserve + plan.raise_by)


def _reserve_accounts(cost_type: CostType) -> tuple[Account, Account]:
    if cost_type is CostType.INDEMNITY:
        return Account.LOSS_RESERVE_CHANGE, Account.LOSS_RESERVES
    return Account.LAE_RESERVE_CHANGE, Account.LAE_RESERVES


def reserve_change_lines(cost_type: CostType, change: Decimal) -> list[Line]:
    """Dr change in reserves / Cr case reserves; a negative change reverses both."""
    change_account, reserves = _reserve_accounts(cost_type)
    return [debit(change_account, change), credit(reserves, change)]


def payment_lines(cost_type: CostType, amount: Decimal) -> list[Line]:
    """Dr paid loss (or LAE) / Cr cash, and the reserve taken down by the amount used: Dr case
    reserves / Cr change in reserves."""
    paid = Account.PAID_LOSS if cost_type is CostType.INDEMNITY else Account.PAID_LAE
    change_account, reserves = _reserve_accounts(cost_type)
    return [
        debit(paid, amount),
        credit(Account.CASH, amount),
        debit(reserves, amount),
        credit(change_account, amount),
    ]


def recovery_lines(amount: Decimal) -> list[Line]:
    """Dr cash / Cr salvage and subrogation (a contra-expense)."""
    return [debit(Account.CASH, amount), credit(Account.RECOVERIES, amount)]
