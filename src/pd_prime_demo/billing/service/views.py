"""Reading a billing account: installments with what has been paid against each, the ledger
balance, and who may see it (whoever may see the policy's customer)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import ledger, repository
from pd_prime_demo.billing.enums import Account, InstallmentStatus
from pd_prime_demo.billing.models import BillingAccount, InstallmentRow
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, not_found
from pd_prime_demo.customers import service as customers

ZERO = Decimal(0)
NOT_FOUND = not_found("policy")


@dataclass(frozen=True, slots=True)
class InstallmentView:
    row: InstallmentRow
    paid: Decimal  # what payments (and credits) cover of it, oldest installment first

    @property
    def due(self) -> Decimal:
        """What it asks for: its amount, and its fee once invoiced (the fee is billed then)."""
        return self.row.amount + (self.row.fee if self.row.invoice_number is not None else ZERO)

    @property
    def outstanding(self) -> Decimal:
        return ZERO if self.row.cancelled_on is not None else self.due - self.paid

    @property
    def status(self) -> InstallmentStatus:
        if self.row.cancelled_on is not None:
            return InstallmentStatus.CANCELLED
        if self.row.invoice_number is None:
            return InstallmentStatus.SCHEDULED
        if self.paid >= self.due:
            return InstallmentStatus.PAID
        return InstallmentStatus.PARTIALLY_PAID if self.paid > 0 else InstallmentStatus.OPEN


@dataclass(frozen=True, slots=True)
class AccountView:
    """A billing account: the ledger's receivable is exactly what its live installments still
    owe, less the credit no installment needs (``balance == sum(outstanding) - credit``)."""

    account: BillingAccount
    installments: list[InstallmentView]
    paid: Decimal
    refunded: Decimal
    balance: Decimal  # ledger receivable: positive = owed, negative = credit
    credit: Decimal  # money no installment needs: unapplied payments and billed-too-much

    def past_due(self, on: date) -> list[InstallmentView]:
        grace = timedelta(days=self.account.grace_days)
        return [
            i
            for i in self.installments
            if i.status in (InstallmentStatus.OPEN, InstallmentStatus.PARTIALLY_PAID)
            and i.row.due_on + grace < on
        ]


async def view(session: AsyncSession, account: BillingAccount) -> AccountView:
    """Installments with what has been paid against each (oldest first), and the balance.

    Payments (net of refunds) and whatever invoices billed beyond what their term now bills
    (after a decrease) are applied to the live installments in due order.
    """
    rows = await repository.installments(session, account.policy_id)
    paid, refunded = await repository.paid_and_refunded(session, account.policy_id)
    targets = {t.term_start: t.total for t in await repository.terms(session, account.policy_id)}
    live = [r for r in rows if r.cancelled_on is None]
    billed_beyond = sum((r.amount for r in live), ZERO) - sum(targets.values(), ZERO)
    available = paid - refunded + billed_beyond
    views = []
    for row in rows:
        if row.cancelled_on is not None:
            views.append(InstallmentView(row, ZERO))
            continue
        due = InstallmentView(row, ZERO).due
        applied = max(min(available, due), ZERO)
        available -= applied
        views.append(InstallmentView(row, applied))
    balances = await ledger.balances(session, policy_id=account.policy_id)
    return AccountView(account, views, paid, refunded, balances[Account.RECEIVABLE], available)


async def account_for(
    session: AsyncSession, policy_id: uuid.UUID, *, actor: Actor, for_update: bool = False
) -> Result[BillingAccount, DomainError]:
    """The policy's billing account if ``actor`` may see the policy's customer; 404 if not."""
    if not actor.has(Permission.POLICIES_READ):
        return Err(NOT_FOUND)
    account = await repository.account(
        session,
        policy_id,
        visible_customers=customers.visible_ids(actor),
        for_update=for_update,
    )
    return Ok(account) if account is not None else Err(NOT_FOUND)


async def read_account(
    session: AsyncSession, policy_id: uuid.UUID, *, actor: Actor
) -> Result[AccountView, DomainError]:
    match await account_for(session, policy_id, actor=actor):
        case Ok(account):
            return Ok(await view(session, account))
        case Err() as err:
            return err
    raise AssertionError("unreachable")  # pragma: no cover
