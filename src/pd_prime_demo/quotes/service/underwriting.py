"""Underwriting referrals: the queue, and an underwriter's decision on a referred quote."""

from __future__ import annotations

import uuid
from decimal import Decimal

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, conflict, forbidden
from pd_prime_demo.core.tracing import business_span
from pd_prime_demo.products import service as products
from pd_prime_demo.quotes import repository
from pd_prime_demo.quotes.enums import QuoteStatus
from pd_prime_demo.quotes.models import Quote
from pd_prime_demo.quotes.schemas import UnderwritingDecision
from pd_prime_demo.quotes.service.common import move, outcome, rate, rating_json
from pd_prime_demo.quotes.service.create import options_json
from pd_prime_demo.quotes.service.read import get_quote


@beartype
async def decide_referral(
    session: AsyncSession, quote_id: uuid.UUID, decision: UnderwritingDecision, *, actor: Actor
) -> Result[Quote, DomainError]:
    with business_span(
        "quote.referral_decide",
        decision=decision.decision,
        surcharged=decision.surcharge_percent is not None,
        changed_terms=decision.options is not None,
        authority=actor.authority,
    ) as span:
        decided = await _decide(session, quote_id, decision, actor)
        outcome(span, decided)
        return decided


async def _decide(
    session: AsyncSession, quote_id: uuid.UUID, decision: UnderwritingDecision, actor: Actor
) -> Result[Quote, DomainError]:
    if not actor.has(Permission.UNDERWRITING_DECIDE):
        return Err(forbidden("auth.permission_missing", "this requires underwriting:decide"))
    match await get_quote(session, quote_id, actor=actor, for_update=True):
        case Err() as err:
            return err
        case Ok(quote):
            pass
    if quote.status != QuoteStatus.REFERRED:
        return Err(conflict("quote.not_referred", f"a {quote.status} quote has no open referral"))
    needed = quote.required_authority or 1
    if actor.authority < needed:
        return Err(
            forbidden(
                "underwriting.insufficient_authority",
                f"this referral needs authority {needed}; yours is {actor.authority}",
            )
        )
    quote.decision_note = decision.note
    quote.decided_by = actor.id
    quote.decided_at = clock.now()
    if decision.decision == "decline":
        await move(session, quote, QuoteStatus.DECLINED, actor, decision="decline")
        return Ok(quote)
    if decision.surcharge_percent is not None:
        quote.surcharge = Decimal(1) + decision.surcharge_percent / Decimal(100)
    if decision.options is not None:
        quote.options = options_json(decision.options)
    assert quote.product_version_id is not None
    version = await products.compiled_version(session, quote.product_version_id)
    match rate(version, quote):
        case Err() as err:
            return err
        case Ok(rated):
            pass
    quote.rating = rating_json(rated)
    quote.premium = rated.results[0][1].premium
    await move(
        session,
        quote,
        QuoteStatus.APPROVED,
        actor,
        decision="approve",
        surcharge=str(quote.surcharge) if quote.surcharge else None,
        changed_terms=decision.options is not None,
    )
    return Ok(quote)


async def referral_queue(
    session: AsyncSession, *, actor: Actor, cursor: str | None = None, limit: int
) -> Result[tuple[list[Quote], str | None], DomainError]:
    """Referred quotes this underwriter may decide, oldest first."""
    if not actor.has(Permission.UNDERWRITING_DECIDE):
        return Err(forbidden("auth.permission_missing", "this requires underwriting:decide"))
    return await repository.referred_within(session, actor.authority, cursor=cursor, limit=limit)
