"""A person's billing records in privacy requests: read only. Money is never deleted or
changed by a privacy request (the ledger must balance and stay auditable, GDPR Art. 17(3)(b)),
so this module has nothing that writes."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing.models import BillingAccount, InstallmentRow, Payment, Refund
from pd_prime_demo.core.database import Base


async def rows(
    session: AsyncSession, customer_id: uuid.UUID, policy_ids: Sequence[uuid.UUID]
) -> list[Base]:
    """Billing accounts (ix_billing_accounts_customer_id), then the invoices (installments),
    payments and refunds of the person's policies (each table's policy_id index)."""
    out: list[Base] = list(
        await session.scalars(
            select(BillingAccount)
            .where(BillingAccount.customer_id == customer_id)
            .order_by(BillingAccount.opened_at)
        )
    )
    if not policy_ids:
        return out
    out.extend(
        await session.scalars(
            select(InstallmentRow)
            .where(InstallmentRow.policy_id.in_(policy_ids))
            .order_by(InstallmentRow.policy_id, InstallmentRow.term_start, InstallmentRow.seq)
        )
    )
    out.extend(
        await session.scalars(
            select(Payment)
            .where(Payment.policy_id.in_(policy_ids))
            .order_by(Payment.policy_id, Payment.received_at)
        )
    )
    out.extend(
        await session.scalars(
            select(Refund)
            .where(Refund.policy_id.in_(policy_ids))
            .order_by(Refund.policy_id, Refund.issued_at)
        )
    )
    return out
