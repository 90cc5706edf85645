"""Refunds of a credit balance, once nothing remains to be billed."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import ledger, repository
from pd_prime_demo.billing.enums import Account
from pd_prime_demo.billing.ledger import credit, debit
from pd_prime_demo.billing.models import Refund
from pd_prime_demo.billing.service.views import view
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.outbox import emit


async def refund_if_due(session: AsyncSession, policy_id: uuid.UUID) -> Refund | None:
    """Refund a credit balance once nothing remains to be billed; never more than was paid.

    An installment still to be invoiced with a fee will bill again, so the credit is kept for
    it (mid-term, one query answers); one still to be invoiced without a fee bills nothing the
    credit does not already cover.
    """
    # Most calls end here, in one query each: nothing is owed back, or more will be billed.
    if await ledger.receivable(session, policy_id) >= 0:
        return None
    if await repository.fee_still_to_bill(session, policy_id):
        return None
    account = await repository.account(session, policy_id)
    assert account is not None
    current = await view(session, account)
    if current.balance >= 0 or any(
        i.outstanding > 0 for i in current.installments if i.row.invoice_number is None
    ):
        return None
    amount = min(-current.balance, current.paid - current.refunded)
    if amount <= 0:
        return None
    refund = Refund(
        id=uuid.uuid4(),
        policy_id=policy_id,
        amount=amount,
        reason="return_premium",
        issued_at=clock.now(),
    )
    session.add(refund)
    await session.flush()
    await ledger.post(
        session,
        policy_id=policy_id,
        source="billing.refund",
        source_id=str(refund.id),
        memo=f"{account.policy_number} refund of credit balance",
        lines=[debit(Account.RECEIVABLE, amount), credit(Account.CASH, amount)],
    )
    detail = {"refund_id": str(refund.id), "amount": str(amount)}
    await audit.record(
        session, Actor.system("billing"), "billing.refund_issued", "policy", str(policy_id), detail
    )
    emit(
        session,
        "billing.refund_issued",
        "policy",
        str(policy_id),
        detail,
        customer_id=account.customer_id,
    )
    return refund
