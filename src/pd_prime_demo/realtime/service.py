"""Tickets for live updates: a WebSocket cannot carry an Authorization header from a browser,
and a bearer token in a URL would be logged; so a bearer-authenticated request buys a short,
single-use ticket, kept hashed in the cache (Redis when configured: any server process may
redeem it) and deleted by the one redemption that gets it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.cache import Cache
from pd_prime_demo.core.crypto import TokenSigner
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, unauthenticated
from pd_prime_demo.realtime.rules import (
    TICKET_PREFIX,
    TICKET_TTL_SECONDS,
    Holder,
    dump_holder,
    load_holder,
    new_ticket,
    ticket_key,
)

BAD_TICKET = unauthenticated(
    "realtime.bad_ticket", "the ticket is unknown, expired or already used: get a new one"
)


@dataclass(frozen=True, slots=True)
class Ticket:
    ticket: str
    expires_at: datetime


def token_valid_until(signer: TokenSigner, token: str) -> datetime:
    """When the (already authenticated) access token expires: a socket lives no longer."""
    verified = signer.verify(token)
    try:
        return datetime.fromtimestamp(int(verified.claims["exp"]), UTC)  # type: ignore[union-attr]
    except (AttributeError, KeyError, ValueError, TypeError):
        return clock.now()


async def issue_ticket(cache: Cache, actor: Actor, *, valid_until: datetime) -> Ticket:
    ticket = new_ticket()
    await cache.put(ticket_key(ticket), dump_holder(Holder(actor, valid_until)), TICKET_TTL_SECONDS)
    return Ticket(ticket, clock.now() + timedelta(seconds=TICKET_TTL_SECONDS))


async def redeem_ticket(cache: Cache, ticket: str) -> Result[Holder, DomainError]:
    """Who the ticket was issued to; it is gone afterwards, whoever asks next."""
    if not ticket.startswith(TICKET_PREFIX) or len(ticket) > 100:
        return Err(BAD_TICKET)
    stored = await cache.take(ticket_key(ticket))
    holder = load_holder(stored) if stored is not None else None
    if holder is None or holder.valid_until <= clock.now():
        return Err(BAD_TICKET)
    return Ok(holder)
