"""Tickets for live updates: a WebSocket cannot carry an Authorization header from a browser,
and a bearer token in a URL would be logged; so a bearer-authenticated request buys a short,
single-use ticket, kept hashed in the cache (Redis when configured: any server process may
redeem it) and deleted by the one redemption that gets it.

A ticket names what its token stood on (the login session, or the API client), and a socket
lives only while that would still authenticate a request: :func:`lapsed` is asked at
redemption, for every replayed page and for every batch the hub fans out (and every few
seconds when idle), so a logout, a revoked client or a deactivated user ends the socket
(4401) before it is sent anything published after that.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, ActorKind
from pd_prime_demo.core.cache import Cache
from pd_prime_demo.core.crypto import TokenSigner
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, unauthenticated
from pd_prime_demo.identity import service as identity
from pd_prime_demo.realtime.rules import (
    TICKET_PREFIX,
    TICKET_TTL_SECONDS,
    Holder,
    client_id_of,
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


async def issue_ticket(
    cache: Cache, actor: Actor, *, valid_until: datetime, session_id: uuid.UUID | None
) -> Ticket:
    """A ticket for ``actor``, authenticated by a token valid until ``valid_until`` of login
    session ``session_id`` (None for an API client's token: the client is its credential)."""
    ticket = new_ticket()
    holder = Holder(actor, valid_until, session_id=session_id, client_id=client_id_of(actor))
    await cache.put(ticket_key(ticket), dump_holder(holder), TICKET_TTL_SECONDS)
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


async def lapsed(session: AsyncSession, holders: Iterable[Holder]) -> set[Holder]:
    """Those of ``holders`` who would no longer authenticate: their token expired, or its
    login session ended (logout, refresh-token reuse, the user deactivated) or its API client
    was revoked (or its owner deactivated). One query however many holders. A user's or a
    client's holder that names neither credential cannot be checked, so it has lapsed."""
    now = clock.now()
    checked = set(holders)
    sessions = {h.session_id for h in checked if h.session_id is not None}
    clients = {h.client_id for h in checked if h.client_id is not None}
    live = (
        await identity.live_credentials(session, session_ids=sessions, client_ids=clients)
        if sessions or clients
        else set()
    )
    return {h for h in checked if h.valid_until <= now or not _stands(h, live)}


def _stands(holder: Holder, live: set[uuid.UUID]) -> bool:
    if holder.actor.kind is ActorKind.SYSTEM:
        return True  # a process's own actor (tests, tools): no credential to end
    if holder.actor.kind is ActorKind.CLIENT:
        return holder.client_id is not None and holder.client_id in live
    return holder.session_id is not None and holder.session_id in live
