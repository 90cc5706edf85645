"""Policies' queries for renewals: offers and the terms coming up for one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
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
