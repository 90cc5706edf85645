"""Payments: recorded once per Idempotency-Key, posted to the ledger, excess refunded."""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import ledger, repository
from pd_prime_demo.billing.enums import Account
from pd_prime_demo.billing.ledger import credit, debit
from pd_prime_demo.billing.models import BillingAccount, Payment
from pd_prime_demo.billing.service.refunds import refund_if_due
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, FieldIssue, Ok, Result


async def pay(
    session: AsyncSession,
    account: BillingAccount,
    *,
    amount: Decimal,
    method: str,
    idempotency_key: str,
    actor: Actor,
) -> Result[tuple[Payment, bool], DomainError]:
    """Record a payment once per key; the same key with another amount is refused."""
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
    policy_id = account.policy_id
    payment = Payment(
        id=uuid.uuid4(),
        policy_id=policy_id,
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
    )
    await refund_if_due(session, policy_id)
    return Ok((payment, True))
