"""First notice of loss's queries: claim numbers, a claim's parties and vehicles or property,
the policy's other claims (for fraud indicators), and attachments."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from pd_prime_demo.claims.models import (
    Claim,
    ClaimAttachment,
    ClaimInvolved,
    ClaimParty,
)
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Result


async def next_serial(session: AsyncSession) -> int:
    return int(await session.scalar(text("SELECT nextval('claim_number_seq')")))


async def parties_of(session: AsyncSession, claim_id: uuid.UUID) -> list[ClaimParty]:
    query = (
        select(ClaimParty)
        .where(ClaimParty.claim_id == claim_id)
        .order_by(ClaimParty.created_at, ClaimParty.id)
    )
    return list((await session.scalars(query)).all())


async def involved_of(session: AsyncSession, claim_id: uuid.UUID) -> list[ClaimInvolved]:
    query = (
        select(ClaimInvolved)
        .where(ClaimInvolved.claim_id == claim_id)
        .order_by(ClaimInvolved.created_at, ClaimInvolved.id)
    )
    return list((await session.scalars(query)).all())


async def other_loss_dates(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    excluding: uuid.UUID | None,
    since: date,
    until: date,
) -> list[date]:
    """Loss dates of the policy's claims in [since, until] (ix_claims_policy_id_loss_on)."""
    query = select(Claim.loss_on).where(
        Claim.policy_id == policy_id, Claim.loss_on >= since, Claim.loss_on <= until
    )
    if excluding is not None:
        query = query.where(Claim.id != excluding)
    return list((await session.scalars(query)).all())


async def attachment_count(session: AsyncSession, claim_id: uuid.UUID) -> int:
    query = select(func.count()).where(ClaimAttachment.claim_id == claim_id)
    return int(await session.scalar(query) or 0)


async def attachments_page(
    session: AsyncSession, claim_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Result[tuple[list[ClaimAttachment], str | None], DomainError]:
    """Oldest first, by (uploaded_at, id) (ix_claim_attachments_claim_id_uploaded_at); the
    content is not read."""
    query: Any = select(ClaimAttachment).where(ClaimAttachment.claim_id == claim_id)
    return await keyset_page(
        session,
        query,
        cursor=cursor,
        limit=limit,
        keys=[ClaimAttachment.uploaded_at, ClaimAttachment.id],
    )


async def attachment(
    session: AsyncSession, claim_id: uuid.UUID, attachment_id: uuid.UUID, *, content: bool
) -> ClaimAttachment | None:
    query = select(ClaimAttachment).where(
        ClaimAttachment.id == attachment_id, ClaimAttachment.claim_id == claim_id
    )
    if content:
        query = query.options(undefer(ClaimAttachment.content))
    return await session.scalar(query)
