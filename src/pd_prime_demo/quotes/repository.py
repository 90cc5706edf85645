"""Quotes' queries: the only module that builds SQL on the quotes table."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Result
from pd_prime_demo.quotes.enums import OPEN_STATUSES, QuoteStatus
from pd_prime_demo.quotes.models import Quote


async def get(
    session: AsyncSession, quote_id: uuid.UUID, *, for_update: bool = False
) -> Quote | None:
    return await session.get(Quote, quote_id, with_for_update=for_update)


async def page(
    session: AsyncSession,
    *,
    visible_customers: Select[Any],
    status: str | None,
    customer_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[Quote], str | None], DomainError]:
    query = select(Quote).where(Quote.customer_id.in_(visible_customers))
    if status is not None:
        query = query.where(Quote.status == status)
    if customer_id is not None:
        query = query.where(Quote.customer_id == customer_id)
    return await keyset_page(session, query, Quote, cursor=cursor, limit=limit)


async def referred_within(
    session: AsyncSession, authority: int, *, cursor: str | None, limit: int
) -> Result[tuple[list[Quote], str | None], DomainError]:
    """Referred quotes needing no more than ``authority``, oldest first."""
    query = select(Quote).where(
        Quote.status == QuoteStatus.REFERRED, Quote.required_authority <= authority
    )
    return await keyset_page(session, query, Quote, cursor=cursor, limit=limit)


async def open_past_validity(session: AsyncSession, today: date, limit: int) -> Sequence[Quote]:
    """Open quotes whose validity ended before ``today``, locked (a concurrent sweep skips)."""
    return (
        await session.scalars(
            select(Quote)
            .where(Quote.status.in_(OPEN_STATUSES), Quote.expires_on < today)
            .order_by(Quote.expires_on)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def past_validity_after(
    session: AsyncSession, today: date, after: tuple[date, uuid.UUID] | None, limit: int
) -> list[tuple[date, uuid.UUID]]:
    """The next ``limit`` open quotes past their validity after ``after``, as (expires_on,
    id) keys in that index order (the expiry sweep's planner: keys only, a page at a time)."""
    query = (
        select(Quote.expires_on, Quote.id)
        .where(Quote.status.in_(sorted(OPEN_STATUSES)), Quote.expires_on < today)
        .order_by(Quote.expires_on, Quote.id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(Quote.expires_on, Quote.id) > tuple_(*after))
    return [(row.expires_on, row.id) for row in await session.execute(query)]


async def lock_past_validity(
    session: AsyncSession, ids: Sequence[uuid.UUID], today: date
) -> Sequence[Quote]:
    """These quotes, locked in id order, if still open and past their validity (a chunk
    re-done, or a quote bound or expired meanwhile, finds nothing to do on it)."""
    return (
        await session.scalars(
            select(Quote)
            .where(
                Quote.id.in_(ids),
                Quote.status.in_(sorted(OPEN_STATUSES)),
                Quote.expires_on < today,
            )
            .order_by(Quote.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
