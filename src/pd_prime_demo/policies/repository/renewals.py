"""Policies' queries for renewals: offers and the terms coming up for one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.policies.enums import RenewalStatus
from pd_prime_demo.policies.models import PolicyTransaction, RenewalOffer


async def renewal_offer(
    session: AsyncSession, policy_id: uuid.UUID, term_start: date
) -> RenewalOffer | None:
    return await session.scalar(
        select(RenewalOffer).where(
            RenewalOffer.policy_id == policy_id, RenewalOffer.term_start == term_start
        )
    )


async def open_renewal_offer(session: AsyncSession, policy_id: uuid.UUID) -> RenewalOffer | None:
    return await session.scalar(
        select(RenewalOffer)
        .where(RenewalOffer.policy_id == policy_id, RenewalOffer.status == RenewalStatus.OFFERED)
        .with_for_update()
    )


async def offers_to_lapse(session: AsyncSession, today: date) -> Sequence[RenewalOffer]:
    return (
        await session.scalars(
            select(RenewalOffer)
            .where(RenewalOffer.status == RenewalStatus.OFFERED, RenewalOffer.term_start < today)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def terms_ending_between(
    session: AsyncSession, first: date, last: date
) -> Sequence[uuid.UUID]:
    """Policies with a term ending within [first, last] (renewal offer candidates)."""
    return (
        await session.scalars(
            select(PolicyTransaction.policy_id)
            .where(PolicyTransaction.term_end >= first, PolicyTransaction.term_end <= last)
            .distinct()
        )
    ).all()


# --- The chunked renewal sweeps: keys a page at a time in index order, rows locked per chunk ---


async def terms_ending_after(
    session: AsyncSession,
    first: date,
    last: date,
    after: tuple[date, uuid.UUID] | None,
    limit: int,
) -> list[tuple[date, uuid.UUID]]:
    """The next ``limit`` (term_end, policy_id) keys with a term ending within [first, last]
    after ``after``, in index order (a policy's transactions of one term share a key)."""
    query = (
        select(PolicyTransaction.term_end, PolicyTransaction.policy_id)
        .where(PolicyTransaction.term_end >= first, PolicyTransaction.term_end <= last)
        .distinct()
        .order_by(PolicyTransaction.term_end, PolicyTransaction.policy_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(
            tuple_(PolicyTransaction.term_end, PolicyTransaction.policy_id) > tuple_(*after)
        )
    return [(row.term_end, row.policy_id) for row in await session.execute(query)]


async def offers_to_lapse_after(
    session: AsyncSession, today: date, after: tuple[date, uuid.UUID] | None, limit: int
) -> list[tuple[date, uuid.UUID]]:
    """The next ``limit`` (term_start, id) keys of offers still open after their term began."""
    query = (
        select(RenewalOffer.term_start, RenewalOffer.id)
        .where(RenewalOffer.status == RenewalStatus.OFFERED, RenewalOffer.term_start < today)
        .order_by(RenewalOffer.term_start, RenewalOffer.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(RenewalOffer.term_start, RenewalOffer.id) > tuple_(*after))
    return [(row.term_start, row.id) for row in await session.execute(query)]


async def lock_offers_to_lapse(
    session: AsyncSession, ids: Sequence[uuid.UUID], today: date
) -> Sequence[RenewalOffer]:
    """These offers, locked, if still open after their term began (re-checked under the lock:
    an offer accepted meanwhile, or a chunk re-done, lapses nothing twice)."""
    return (
        await session.scalars(
            select(RenewalOffer)
            .where(
                RenewalOffer.id.in_(ids),
                RenewalOffer.status == RenewalStatus.OFFERED,
                RenewalOffer.term_start < today,
            )
            .order_by(RenewalOffer.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
