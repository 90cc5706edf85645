"""Reading quotes (expired on read when their validity has passed), the worksheet, expiry."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, conflict, forbidden
from pd_prime_demo.customers import service as customers
from pd_prime_demo.products import service as products
from pd_prime_demo.quotes import repository
from pd_prime_demo.quotes.enums import OPEN_STATUSES, QuoteStatus
from pd_prime_demo.quotes.models import Quote
from pd_prime_demo.quotes.service.common import NOT_FOUND, move, rate
from pd_prime_demo.rating.engine import RatingResult

QUOTES_READ_MISSING = forbidden("auth.permission_missing", "this requires quotes:read")


async def _expire_if_due(session: AsyncSession, quote: Quote) -> None:
    if quote.status in OPEN_STATUSES and clock.today() > quote.expires_on:
        await move(session, quote, QuoteStatus.EXPIRED, Actor.system("quote-expiry"))


async def get_quote(
    session: AsyncSession, quote_id: uuid.UUID, *, actor: Actor, for_update: bool = False
) -> Result[Quote, DomainError]:
    """The quote if ``actor`` may see its customer (404 otherwise); expired on read if due.
    Without quotes:read at all the answer is 403: that says nothing about any one quote."""
    if not actor.has(Permission.QUOTES_READ):
        return Err(QUOTES_READ_MISSING)
    quote = await repository.get(session, quote_id, for_update=for_update)
    if quote is None:
        return Err(NOT_FOUND)
    if not await customers.may_see(session, quote.customer_id, actor=actor):
        return Err(NOT_FOUND)
    await _expire_if_due(session, quote)
    return Ok(quote)


async def list_quotes(
    session: AsyncSession,
    *,
    actor: Actor,
    status: str | None,
    customer_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[Quote], str | None], DomainError]:
    # A role without quotes:read is told so (403), not handed an empty page that reads as
    # "no quotes" (OWASP API5:2023, broken function-level authorization).
    if not actor.has(Permission.QUOTES_READ):
        return Err(QUOTES_READ_MISSING)
    return await repository.page(
        session,
        visible_customers=customers.visible_ids(actor),
        status=status,
        customer_id=customer_id,
        cursor=cursor,
        limit=limit,
    )


async def worksheet(
    session: AsyncSession, quote: Quote
) -> Result[tuple[products.CompiledVersion, list[tuple[str, RatingResult]]], DomainError]:
    """Re-rate from the recorded version with explanations; must match the stored premium."""
    if quote.rating is None or quote.product_version_id is None:
        return Err(conflict("quote.not_rated", "a draft quote has no rating yet"))
    version = await products.compiled_version(session, quote.product_version_id)
    match rate(version, quote, explain=True):
        case Err() as err:
            return err
        case Ok(rated):
            pass
    if str(rated.results[0][1].premium) != quote.rating[0]["premium"]:
        raise RuntimeError(f"quote {quote.id}: re-rating differs from the recorded premium")
    return Ok((version, rated.results))


async def mark_bound(
    session: AsyncSession, quote: Quote, *, policy_id: uuid.UUID, option: str, actor: Actor
) -> None:
    """The quote's last move: bound into ``policy_id``."""
    await move(session, quote, QuoteStatus.BOUND, actor, policy_id=str(policy_id), option=option)


async def expire_due(session: AsyncSession, *, limit: int = 1000) -> int:
    """Expire open quotes past their validity (run by the CLI or a scheduled job)."""
    rows = await repository.open_past_validity(session, clock.today(), limit)
    for quote in rows:
        await move(session, quote, QuoteStatus.EXPIRED, Actor.system("quote-expiry"))
    return len(rows)


async def quotes_past_validity(
    session: AsyncSession, *, today: date, after: tuple[date, uuid.UUID] | None, limit: int
) -> list[tuple[date, uuid.UUID]]:
    """A page of (expires_on, id) keys of open quotes past validity (the sweep's planner)."""
    return await repository.past_validity_after(session, today, after, limit)


async def expire_quotes(session: AsyncSession, ids: list[uuid.UUID], *, today: date) -> int:
    """Expire these quotes if still open and past their validity on ``today`` (one chunk of
    the sweep): each is re-checked under its row lock, so a chunk done twice expires once."""
    rows = await repository.lock_past_validity(session, ids, today)
    for quote in rows:
        await move(session, quote, QuoteStatus.EXPIRED, Actor.system("quote-expiry"))
    return len(rows)
