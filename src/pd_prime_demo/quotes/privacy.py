"""A person's quotes in privacy requests: read them, delete the ones that never bound (which
ones bound is the policies domain's knowledge; ``privacy.service`` asks it)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.quotes.models import Quote


async def rows(session: AsyncSession, customer_id: uuid.UUID) -> list[Quote]:
    # ix_quotes_customer_id; a person's quotes are a handful, bounded by the person.
    found = await session.scalars(
        select(Quote).where(Quote.customer_id == customer_id).order_by(Quote.created_at, Quote.id)
    )
    return list(found)


async def ids_of(session: AsyncSession, customer_id: uuid.UUID) -> list[uuid.UUID]:
    return list(await session.scalars(select(Quote.id).where(Quote.customer_id == customer_id)))


async def delete_quotes(session: AsyncSession, quote_ids: Sequence[uuid.UUID]) -> int:
    if not quote_ids:
        return 0
    result = await session.execute(delete(Quote).where(Quote.id.in_(quote_ids)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def quotes_of(
    session: AsyncSession, customer_ids: Sequence[uuid.UUID]
) -> list[tuple[uuid.UUID, uuid.UUID, date]]:
    """(quote id, customer id, expires on) of these customers' quotes, for a retention chunk
    (ix_quotes_customer_id)."""
    if not customer_ids:
        return []
    found = await session.execute(
        select(Quote.id, Quote.customer_id, Quote.expires_on).where(
            Quote.customer_id.in_(customer_ids)
        )
    )
    return [(q, c, e) for q, c, e in found]
