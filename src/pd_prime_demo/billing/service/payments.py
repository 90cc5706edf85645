"""Payments: recorded once per Idempotency-Key, posted to the ledger, excess refunded."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from opentelemetry.trace import Span
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import ledger, repository
from pd_prime_demo.billing.enums import Account
from pd_prime_demo.billing.ledger import credit, debit
from pd_prime_demo.billing.models import BillingAccount, Payment
from pd_prime_demo.billing.service.refunds import refund_if_due
from pd_prime_demo.billing.service.views import AccountView, allocate, view
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.after_commit import after_commit
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, FieldIssue, Ok, Result
from pd_prime_demo.core.telemetry import PAYMENT_AMOUNT, PAYMENTS
from pd_prime_demo.core.tracing import annotate, business_span

ZERO = Decimal(0)
# The ledger keeps no currency: a product definition admits only USD (rating.definition), so
# every account is in it. The label is there for the day a second currency is offered.
CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class Recorded:
    payment: Payment
    created: bool  # False: a replay of the payment made earlier with the same key

    @property
    def settled(self) -> list[dict[str, Any]]:
        """What it settled when it was made (kept with it, so a replay says the same)."""
        return list(self.payment.settled)


async def pay(
    session: AsyncSession,
    account: BillingAccount,
    *,
    amount: Decimal,
    method: str,
    idempotency_key: str,
    actor: Actor,
) -> Result[Recorded, DomainError]:
    """Record a payment once per key; the same key with another amount is refused. The
    payment settles the live installments oldest first; what none needs is a credit."""
    # The payer is not on the span: the method's kind, the amount and the policy's id are.
    with business_span(
        "payment.record",
        policy_id=str(account.policy_id),
        product=account.product_code,
        state=account.state,
        method=str(method),
        amount=str(amount),
        currency=CURRENCY,
    ) as span:
        recorded = await _record(session, account, amount, method, idempotency_key, actor)
        _outcome(session, span, recorded)
        return recorded


def _outcome(session: AsyncSession, span: Span, recorded: Result[Recorded, DomainError]) -> None:
    match recorded:
        case Ok(Recorded(payment=payment, created=True) as done):
            annotate(span, outcome="recorded", settled=len(done.settled))
            # Counted once committed: a replay (created=False) or a rollback counts nothing.
            # The float is Prometheus's: the ledger keeps the Decimal.
            amount = float(payment.amount)
            after_commit(session, PAYMENTS.labels(CURRENCY).inc)
            after_commit(session, lambda: PAYMENT_AMOUNT.labels(CURRENCY).inc(amount))
        case Ok(_):
            annotate(span, outcome="replayed")
        case Err(error):
            annotate(span, outcome=error.code)


async def _record(
    session: AsyncSession,
    account: BillingAccount,
    amount: Decimal,
    method: str,
    idempotency_key: str,
    actor: Actor,
) -> Result[Recorded, DomainError]:
    fingerprint = hashlib.sha256(f"{amount}|{method}".encode()).hexdigest()
    existing = await repository.payment_by_key(session, account.policy_id, idempotency_key)
    if existing is not None:
        if existing.request_hash != fingerprint:
            return Err(
                DomainError(
                    ErrorKind.INVALID,
                    "idempotency.key_reused",
                    "this Idempotency-Key was used for another payment",
                )
            )
        return Ok(Recorded(existing, created=False))
    if amount <= 0:
        return Err(
            DomainError(
                ErrorKind.INVALID,
                "payment.invalid_amount",
                "the amount must be positive",
                errors=(FieldIssue("#/amount", "must be positive"),),
            )
        )
    policy_id = account.policy_id
    before = await view(session, account, with_balance=False)
    payment = Payment(
        id=uuid.uuid4(),
        policy_id=policy_id,
        amount=amount,
        method=method,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        received_at=clock.now(),
        received_by=actor.id,
        settled=_settled(before, amount),
    )
    session.add(payment)
    await session.flush()
    await ledger.post(
        session,
        policy_id=policy_id,
        source="billing.payment",
        source_id=str(payment.id),
        memo=f"{account.policy_number} payment ({method})",
        lines=[debit(Account.CASH, amount), credit(Account.RECEIVABLE, amount)],
    )
    await audit.record(
        session,
        actor,
        "billing.payment_received",
        "policy",
        str(policy_id),
        {"payment_id": str(payment.id), "amount": str(amount), "method": method},
    )
    emit(
        session,
        "billing.payment_received",
        "policy",
        str(policy_id),
        {"payment_id": str(payment.id), "amount": str(amount)},
        customer_id=account.customer_id,
    )
    await refund_if_due(session, policy_id)
    return Ok(Recorded(payment, created=True))


def _settled(before: AccountView, amount: Decimal) -> list[dict[str, Any]]:
    """What ``amount`` settles on top of the account as it stands (oldest first)."""
    rows = [v.row for v in before.installments]
    already = sum((v.paid for v in before.installments), ZERO) + before.credit
    after, _ = allocate(rows, already + amount)
    return [
        {
            "term_start": now.row.term_start.isoformat(),
            "seq": now.row.seq,
            "due_on": now.row.due_on.isoformat(),
            "invoice_number": now.row.invoice_number if now.is_invoiced else None,
            "amount": str(now.paid - then.paid),
        }
        for now, then in zip(after, before.installments, strict=True)
        if now.paid != then.paid
    ]
