"""A person's policies in privacy requests: read them (with their transactions, pending
changes and renewal offers), and the facts erasure and retention decide on. Nothing here
changes a policy: its records are kept under the state record rules."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.database import Base
from pd_prime_demo.policies.models import Policy, PolicyChange, PolicyTransaction, RenewalOffer


async def policy_ids(session: AsyncSession, customer_id: uuid.UUID) -> list[uuid.UUID]:
    found = await session.scalars(
        select(Policy.id).where(Policy.customer_id == customer_id).order_by(Policy.id)
    )
    return list(found)


async def rows(session: AsyncSession, customer_id: uuid.UUID) -> list[Base]:
    """The person's policies and, per policy, its history (ix_policies_customer_id, then the
    policy_id indexes of each table)."""
    policies = list(
        await session.scalars(
            select(Policy).where(Policy.customer_id == customer_id).order_by(Policy.created_at)
        )
    )
    ids = [p.id for p in policies]
    out: list[Base] = list(policies)
    if not ids:
        return out
    for model, order in (
        (PolicyTransaction, (PolicyTransaction.policy_id, PolicyTransaction.seq)),
        (PolicyChange, (PolicyChange.policy_id, PolicyChange.requested_at)),
        (RenewalOffer, (RenewalOffer.policy_id, RenewalOffer.term_start)),
    ):
        out.extend(
            await session.scalars(select(model).where(model.policy_id.in_(ids)).order_by(*order))
        )
    return out


async def bound_quote_ids(session: AsyncSession, quote_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these quotes a policy was bound from (policies.quote_id is unique)."""
    if not quote_ids:
        return set()
    found = await session.scalars(select(Policy.quote_id).where(Policy.quote_id.in_(quote_ids)))
    return {q for q in found if q is not None}


async def customer_of(session: AsyncSession, policy_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(Policy.customer_id).where(Policy.id == policy_id))


async def last_term_ends(
    session: AsyncSession, customer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, date]:
    """Per customer with a policy, the latest date any of their policies was in force to: one
    grouped query for a chunk. The latest term end of any transaction, cancellations included:
    a policy cancelled mid-term counts to its term's end, which keeps records longer, never
    shorter."""
    if not customer_ids:
        return {}
    found = await session.execute(
        select(Policy.customer_id, func.max(PolicyTransaction.term_end))
        .join(PolicyTransaction, PolicyTransaction.policy_id == Policy.id)
        .where(Policy.customer_id.in_(customer_ids))
        .group_by(Policy.customer_id)
    )
    return {row[0]: row[1] for row in found}
