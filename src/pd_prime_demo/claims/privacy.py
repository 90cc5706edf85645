"""A person's claims in privacy requests: read the claim files, and put a pseudonym on the
person where they are a party. The claim file itself is kept (GDPR Art. 17(3)(e))."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims.enums import ClaimStatus
from pd_prime_demo.claims.models import Claim, ClaimInvolved, ClaimNote, ClaimParty
from pd_prime_demo.claims.money_models import ClaimTransaction
from pd_prime_demo.core.database import Base


async def claim_ids(session: AsyncSession, customer_id: uuid.UUID) -> list[uuid.UUID]:
    found = await session.scalars(
        select(Claim.id).where(Claim.customer_id == customer_id).order_by(Claim.id)
    )
    return list(found)


async def rows(session: AsyncSession, customer_id: uuid.UUID) -> list[Base]:
    """The person's claims (ix_claims_customer_id), their parties, vehicles and property
    involved, notes and money transactions (each table's claim_id index).

    A party naming the person in someone else's claim is not found here: claim_parties has no
    index on customer_id yet (the claims models must add it before such a lookup is cheap)."""
    claims = list(
        await session.scalars(
            select(Claim).where(Claim.customer_id == customer_id).order_by(Claim.reported_at)
        )
    )
    ids = [c.id for c in claims]
    out: list[Base] = list(claims)
    if ids:
        for model in (ClaimParty, ClaimInvolved, ClaimNote):
            out.extend(
                await session.scalars(
                    select(model)
                    .where(model.claim_id.in_(ids))
                    .order_by(model.claim_id, model.created_at, model.id)
                )
            )
        out.extend(
            await session.scalars(
                select(ClaimTransaction)
                .where(ClaimTransaction.claim_id.in_(ids))
                .order_by(ClaimTransaction.claim_id, ClaimTransaction.id)
            )
        )
    return out


async def pseudonymise_parties(
    session: AsyncSession,
    customer_id: uuid.UUID,
    claim_ids: Sequence[uuid.UUID],
    *,
    pseudonym: str,
) -> list[uuid.UUID]:
    """Replace the person's name and contact where they are a party of their claims; the
    party row (its role, injury flag, claim) stays, so the claim file still reads whole."""
    if not claim_ids:
        return []
    found = await session.scalars(
        update(ClaimParty)
        .where(ClaimParty.claim_id.in_(claim_ids), ClaimParty.customer_id == customer_id)
        .values(name=pseudonym, contact_enc=None)
        .returning(ClaimParty.id)
    )
    return list(found)


async def customer_of(session: AsyncSession, claim_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(Claim.customer_id).where(Claim.id == claim_id))


async def claim_states(
    session: AsyncSession, customer_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, tuple[bool, date | None]]:
    """Per customer with a claim: (any still open, when the last closed claim last changed).
    A closed claim's last change is its closing or a later reopen-and-close: the clock of the
    claim-file retention rules starts there."""
    if not customer_ids:
        return {}
    closed = ClaimStatus.CLOSED.value
    found = await session.execute(
        select(
            Claim.customer_id,
            func.count().filter(Claim.status != closed),
            func.max(Claim.updated_at).filter(Claim.status == closed),
        )
        .where(Claim.customer_id.in_(customer_ids))
        .group_by(Claim.customer_id)
    )
    return {
        c: (bool(open_count), None if last is None else last.date())
        for c, open_count, last in found
    }
