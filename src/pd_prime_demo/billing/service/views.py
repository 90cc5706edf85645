"""Reading a billing account: installments with what has been paid against each, the ledger
balance, and who may see it (whoever may see the policy's customer)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import ledger, repository
from pd_prime_demo.billing.enums import Account, InstallmentStatus
from pd_prime_demo.billing.models import (
    BillingAccount,
    InstallmentRow,
    InstallmentVersion,
    Payment,
    Refund,
)
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, not_found
from pd_prime_demo.customers import service as customers

ZERO = Decimal(0)
NOT_FOUND = not_found("policy")


InstallmentLike = InstallmentRow | InstallmentVersion


@dataclass(frozen=True, slots=True)
class InstallmentView:
    row: InstallmentLike
    paid: Decimal  # what payments (and credits) cover of it, oldest installment first
    invoiced: bool = True  # invoiced by the day the account is read as of (if invoiced at all)

    @property
    def is_invoiced(self) -> bool:
        return self.invoiced and self.row.invoice_number is not None

    @property
    def due(self) -> Decimal:
        """What it asks for: its amount, and its fee once invoiced (the fee is billed then)."""
        return self.row.amount + (self.row.fee if self.is_invoiced else ZERO)

    @property
    def outstanding(self) -> Decimal:
        return ZERO if self.row.cancelled_on is not None else self.due - self.paid

    @property
    def status(self) -> InstallmentStatus:
        if self.row.cancelled_on is not None:
            return InstallmentStatus.CANCELLED
        if not self.is_invoiced:
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
    payments: list[Payment] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)

    def past_due(self, on: date) -> list[InstallmentView]:
        grace = timedelta(days=self.account.grace_days)
        return [
            i
            for i in self.installments
            if i.status in (InstallmentStatus.OPEN, InstallmentStatus.PARTIALLY_PAID)
            and i.row.due_on + grace < on
        ]


def allocate(
    rows: list[InstallmentLike], available: Decimal, *, invoiced_by: date | None = None
) -> tuple[list[InstallmentView], Decimal]:
    """Apply ``available`` money to the live installments in due order; what is left over."""
    views = []
    for row in rows:
        invoiced = invoiced_by is None or (
            row.invoiced_on is not None and row.invoiced_on <= invoiced_by
        )
        if row.cancelled_on is not None:
            views.append(InstallmentView(row, ZERO, invoiced))
            continue
        due = InstallmentView(row, ZERO, invoiced).due
        applied = max(min(available, due), ZERO)
        available -= applied
        views.append(InstallmentView(row, applied, invoiced))
    return views, available


async def view(
    session: AsyncSession,
    account: BillingAccount,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    with_balance: bool = True,
) -> AccountView:
    """Installments with what has been paid against each (oldest first), and the balance
    (unless ``with_balance`` is False: then ``balance`` is left at zero, for callers that need
    only the allocation).

    Payments (net of refunds) and whatever invoices billed beyond what their term now bills
    (after a decrease) are applied to the live installments in due order. ``as_of`` reads the
    account at the end of a day (invoices issued and money received by then, the ledger through
    that accounting date); ``known_at`` as the system knew it at a moment (the schedule as it
    stood then, nothing recorded later).
    """
    policy_id = account.policy_id
    cutoff = _cutoff(as_of, known_at)
    if known_at is None:
        rows: list[InstallmentLike] = list(await repository.installments(session, policy_id))
    else:
        rows = await repository.installments_known_at(session, policy_id, known_at)
    if cutoff is None:
        paid, refunded = await repository.paid_and_refunded(session, policy_id)
        payments: list[Payment] = []
        refunds: list[Refund] = []
    else:
        payments = await repository.payments_by(session, policy_id, cutoff)
        refunds = await repository.refunds_by(session, policy_id, cutoff)
        paid = sum((p.amount for p in payments), ZERO)
        refunded = sum((r.amount for r in refunds), ZERO)
    targets = await repository.term_totals_known_at(session, policy_id, known_at)
    live = [r for r in rows if r.cancelled_on is None]
    billed_beyond = sum((r.amount for r in live), ZERO) - sum(targets.values(), ZERO)
    views, credit = allocate(rows, paid - refunded + billed_beyond, invoiced_by=as_of)
    balance = ZERO
    if with_balance:
        balances = await ledger.balances(
            session, policy_id=policy_id, as_of=as_of, known_at=known_at
        )
        balance = balances[Account.RECEIVABLE]
    return AccountView(account, views, paid, refunded, balance, credit, payments, refunds)


def _cutoff(as_of: date | None, known_at: datetime | None) -> datetime | None:
    """The last moment whose payments and refunds count."""
    end_of_day = (
        datetime.combine(as_of + timedelta(days=1), datetime.min.time(), UTC)
        if as_of is not None
        else None
    )
    moments = [m for m in (end_of_day, known_at) if m is not None]
    return min(moments) if moments else None


async def read_account(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    actor: Actor,
    as_of: date | None = None,
    known_at: datetime | None = None,
) -> Result[AccountView, DomainError]:
    match await account_for(session, policy_id, actor=actor):
        case Ok(account):
            return Ok(await view(session, account, as_of=as_of, known_at=known_at))
        case Err() as err:
            return err
    raise AssertionError("unreachable")  # pragma: no cover


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


async def money_of(
    session: AsyncSession, policy_id: uuid.UUID
) -> tuple[list[Payment], list[Refund]]:
    """Every payment and refund of the account, oldest first."""
    return (
        await repository.payments_by(session, policy_id, None),
        await repository.refunds_by(session, policy_id, None),
    )
