"""Billing: installment schedules, invoices, payments, refunds, delinquency; ledger postings.

The ledger's premium receivable for a policy is everything written for it (premium, fees,
taxes, installment fees) less payments, plus refunds. Payments settle invoices oldest first;
money paid beyond what is billed stays as a credit for the next invoices, and is refunded once
nothing is left to bill (after a cancellation or a decrease at the end of a schedule).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import ledger
from pd_prime_demo.billing.ledger import credit, debit
from pd_prime_demo.billing.models import Account, InstallmentRow, Payment, Refund
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, FieldIssue, Ok, Result
from pd_prime_demo.documents import service as documents
from pd_prime_demo.policies.rules import installment_schedule
from pd_prime_demo.rating.definition import Billing, PaymentPlan, ProductVersionDefinition

if TYPE_CHECKING:
    from pd_prime_demo.policies.models import Policy, PolicyTransaction

ZERO = Decimal(0)


def plans_for(defn: ProductVersionDefinition) -> list[PaymentPlan]:
    return list(defn.billing.payment_plans)


async def _installments(session: AsyncSession, policy_id: uuid.UUID) -> list[InstallmentRow]:
    return list(
        (
            await session.scalars(
                select(InstallmentRow)
                .where(InstallmentRow.policy_id == policy_id)
                .order_by(InstallmentRow.due_on, InstallmentRow.term_start, InstallmentRow.seq)
            )
        ).all()
    )


async def on_transaction(
    session: AsyncSession,
    policy: Policy,
    txn: PolicyTransaction,
    *,
    definition: ProductVersionDefinition,
) -> None:
    """Post the transaction to the ledger, fit the schedule to it, refund any excess."""
    total = txn.premium_change + txn.fees_change + txn.taxes_change
    await ledger.post(
        session,
        policy_id=policy.id,
        source=f"policy.{txn.kind}",
        source_id=str(txn.id),
        memo=f"{policy.number} {txn.kind} effective {txn.effective_on.isoformat()}",
        accounting_on=txn.accounting_on,
        lines=[
            debit(Account.RECEIVABLE, total),
            credit(Account.UNEARNED, txn.premium_change),
            credit(Account.FEES, txn.fees_change),
            credit(Account.TAXES, txn.taxes_change),
        ],
    )
    if txn.kind in ("new_business", "renewal"):
        plan = next(p for p in plans_for(definition) if p.code == policy.payment_plan)
        for item in installment_schedule(
            total, txn.term_start, definition.term_months, plan.code, plan.installment_fee
        ):
            session.add(
                InstallmentRow(
                    policy_id=policy.id,
                    term_start=txn.term_start,
                    seq=item.seq,
                    due_on=item.due_on,
                    amount=item.amount,
                    fee=item.fee,
                )
            )
        await session.flush()
    else:
        rows = [
            r for r in await _installments(session, policy.id) if r.term_start == txn.term_start
        ]
        if txn.kind == "cancellation":
            for row in rows:
                if row.invoice_number is None and row.due_on >= txn.effective_on:
                    row.cancelled_on = txn.effective_on
        if (adjustment := _fit_schedule(policy, txn, rows, total)) is not None:
            session.add(adjustment)
        await session.flush()
    if total < 0:
        # Only a fall in what is owed can leave a credit; payments refund their own excess.
        await refund_if_due(session, policy)


def _fit_schedule(
    policy: Policy, txn: PolicyTransaction, rows: list[InstallmentRow], change: Decimal
) -> InstallmentRow | None:
    """Spread a change over what is not yet invoiced: an increase goes on the last open
    installment (or a new one due now); a decrease lowers the last open installments first.
    What cannot be lowered stays on the account as a credit (refunded when nothing is left)."""
    open_rows = [r for r in rows if r.cancelled_on is None and r.invoice_number is None]
    if change > 0:
        if open_rows:
            open_rows[-1].amount += change
            return None
        return InstallmentRow(
            policy_id=policy.id,
            term_start=txn.term_start,
            seq=max((r.seq for r in rows), default=0) + 1,
            due_on=max(txn.effective_on, clock.today()),
            amount=change,
            fee=ZERO,
        )
    remaining = -change
    for row in reversed(open_rows):
        taken = min(row.amount, remaining)
        row.amount -= taken
        remaining -= taken
        if remaining == 0:
            break
    return None


async def invoice_due(session: AsyncSession, *, through: date) -> int:
    """Invoice every installment due within its product's lead time of ``through``."""
    from pd_prime_demo.policies.models import Policy

    rows = (
        await session.scalars(
            select(InstallmentRow)
            .where(
                InstallmentRow.invoice_number.is_(None),
                InstallmentRow.cancelled_on.is_(None),
                InstallmentRow.due_on <= through + timedelta(days=60),
            )
            .order_by(InstallmentRow.due_on)
            .with_for_update(skip_locked=True)
        )
    ).all()
    count = 0
    lead_days: dict[uuid.UUID, int] = {}
    for row in rows:
        policy = await session.get(Policy, row.policy_id)
        assert policy is not None
        if policy.id not in lead_days:
            lead_days[policy.id] = (await _billing_rules(session, policy)).invoice_lead_days
        if row.due_on > through + timedelta(days=lead_days[policy.id]):
            continue
        await issue_invoice(session, policy, row)
        count += 1
    return count


async def _billing_rules(session: AsyncSession, policy: Policy) -> Billing:
    from pd_prime_demo.policies import service as policies

    return (await policies.definition_of(session, policy)).billing


async def issue_invoice(session: AsyncSession, policy: Policy, row: InstallmentRow) -> None:
    row.invoice_number = f"INV-{policy.serial}-{row.term_start:%Y%m%d}-{row.seq:02d}"
    row.invoiced_on = clock.today()
    await ledger.post(
        session,
        policy_id=policy.id,
        source="billing.installment_fee",
        source_id=str(row.id),
        memo=f"{row.invoice_number} installment fee",
        lines=[debit(Account.RECEIVABLE, row.fee), credit(Account.FEES, row.fee)],
    )
    await session.flush()
    balance = (await ledger.balances(session, policy_id=policy.id))[Account.RECEIVABLE]
    await documents.render_invoice(session, policy, row, balance=balance)
    emit(
        session,
        "billing.invoiced",
        "policy",
        str(policy.id),
        {
            "invoice": row.invoice_number,
            "due_on": row.due_on.isoformat(),
            "amount": str(row.amount + row.fee),
        },
    )


@dataclass(frozen=True, slots=True)
class InstallmentView:
    row: InstallmentRow
    paid: Decimal

    @property
    def due(self) -> Decimal:
        return self.row.amount + self.row.fee

    @property
    def status(self) -> str:
        if self.row.cancelled_on is not None:
            return "cancelled"
        if self.row.invoice_number is None:
            return "scheduled"
        if self.paid >= self.due:
            return "paid"
        return "partially_paid" if self.paid > 0 else "open"


@dataclass(frozen=True, slots=True)
class AccountView:
    installments: list[InstallmentView]
    paid: Decimal
    refunded: Decimal
    balance: Decimal  # ledger receivable: positive = owed, negative = credit
    credit: Decimal  # payments not yet needed by any invoice

    def past_due(self, on: date, grace_days: int) -> list[InstallmentView]:
        return [
            i
            for i in self.installments
            if i.status in ("open", "partially_paid")
            and i.row.due_on + timedelta(days=grace_days) < on
        ]


async def account(session: AsyncSession, policy: Policy) -> AccountView:
    """Installments with what has been paid against each (oldest first), and the balance."""
    rows = await _installments(session, policy.id)
    paid = sum(
        (
            p.amount
            for p in (
                await session.scalars(select(Payment).where(Payment.policy_id == policy.id))
            ).all()
        ),
        ZERO,
    )
    refunded = sum(
        (
            r.amount
            for r in (
                await session.scalars(select(Refund).where(Refund.policy_id == policy.id))
            ).all()
        ),
        ZERO,
    )
    available = paid - refunded
    views = []
    for row in rows:
        if row.invoice_number is None or row.cancelled_on is not None:
            views.append(InstallmentView(row, ZERO))
            continue
        applied = min(available, row.amount + row.fee)
        available -= applied
        views.append(InstallmentView(row, applied))
    balances = await ledger.balances(session, policy_id=policy.id)
    return AccountView(views, paid, refunded, balances[Account.RECEIVABLE], available)


async def pay(
    session: AsyncSession,
    policy: Policy,
    *,
    amount: Decimal,
    method: str,
    idempotency_key: str,
    actor: Actor,
) -> Result[tuple[Payment, bool], DomainError]:
    """Record a payment once per key; the same key with another amount is refused."""
    fingerprint = hashlib.sha256(f"{amount}|{method}".encode()).hexdigest()
    existing = await session.scalar(
        select(Payment).where(
            Payment.policy_id == policy.id, Payment.idempotency_key == idempotency_key
        )
    )
    if existing is not None:
        if existing.request_hash != fingerprint:
            return Err(
                DomainError(
                    ErrorKind.INVALID,
                    "idempotency.key_reused",
                    "this Idempotency-Key was used for another payment",
                )
            )
        return Ok((existing, False))
    if amount <= 0:
        return Err(
            DomainError(
                ErrorKind.INVALID,
                "payment.invalid_amount",
                "the amount must be positive",
                errors=(FieldIssue("#/amount", "must be positive"),),
            )
        )
    payment = Payment(
        id=uuid.uuid4(),
        policy_id=policy.id,
        amount=amount,
        method=method,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        received_at=clock.now(),
        received_by=actor.id,
    )
    session.add(payment)
    await session.flush()
    await ledger.post(
        session,
        policy_id=policy.id,
        source="billing.payment",
        source_id=str(payment.id),
        memo=f"{policy.number} payment ({method})",
        lines=[debit(Account.CASH, amount), credit(Account.RECEIVABLE, amount)],
    )
    await audit.record(
        session,
        actor,
        "billing.payment_received",
        "policy",
        str(policy.id),
        {"payment_id": str(payment.id), "amount": str(amount), "method": method},
    )
    emit(
        session,
        "billing.payment_received",
        "policy",
        str(policy.id),
        {"payment_id": str(payment.id), "amount": str(amount)},
    )
    await refund_if_due(session, policy)
    return Ok((payment, True))


# An installment not yet invoiced nor cancelled ("scheduled" in InstallmentView.status).
_STILL_TO_BILL = (
    select(InstallmentRow.id)
    .where(
        InstallmentRow.policy_id == bindparam("policy_id"),
        InstallmentRow.invoice_number.is_(None),
        InstallmentRow.cancelled_on.is_(None),
    )
    .limit(1)
)


async def refund_if_due(session: AsyncSession, policy: Policy) -> Refund | None:
    """Refund a credit balance once nothing remains to be billed; never more than was paid."""
    # Mid-term, an installment is still to be billed: one query answers, not the whole account.
    if await session.scalar(_STILL_TO_BILL, {"policy_id": policy.id}) is not None:
        return None
    view = await account(session, policy)
    if view.balance >= 0:
        return None
    amount = min(-view.balance, view.paid - view.refunded)
    if amount <= 0:
        return None
    refund = Refund(
        id=uuid.uuid4(),
        policy_id=policy.id,
        amount=amount,
        reason="return_premium",
        issued_at=clock.now(),
    )
    session.add(refund)
    await session.flush()
    await ledger.post(
        session,
        policy_id=policy.id,
        source="billing.refund",
        source_id=str(refund.id),
        memo=f"{policy.number} refund of credit balance",
        lines=[debit(Account.RECEIVABLE, amount), credit(Account.CASH, amount)],
    )
    await audit.record(
        session,
        Actor.system("billing"),
        "billing.refund_issued",
        "policy",
        str(policy.id),
        {"refund_id": str(refund.id), "amount": str(amount)},
    )
    emit(
        session,
        "billing.refund_issued",
        "policy",
        str(policy.id),
        {"refund_id": str(refund.id), "amount": str(amount)},
    )
    return refund
