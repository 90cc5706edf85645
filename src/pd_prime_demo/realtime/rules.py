"""Pure rules of live updates: tickets, who holds them, close codes, the wire format."""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pd_prime_demo.core.actor import Actor, ActorKind, Permission, Role

TICKET_TTL_SECONDS = 30
TICKET_PREFIX = "rt_"


class CloseCode(enum.IntEnum):
    """WebSocket close codes (4000-4999 are the application's; 4xxx mirrors HTTP)."""

    GOING_AWAY = 1001  # the server is shutting down: reconnect, resume with last_event_id
    TRY_AGAIN_LATER = 1013  # the database cannot be reached right now
    # Ticket missing, unknown, expired or used; the token expired; or its login session or API
    # client ended (logout, revocation, the user deactivated).
    UNAUTHENTICATED = 4401
    FORBIDDEN = 4403  # the login may not read events
    TOO_SLOW = 4408  # the client did not keep up: resume with last_event_id
    INVALID = 4422  # a bad query parameter


def new_ticket() -> str:
    return TICKET_PREFIX + secrets.token_urlsafe(32)


def ticket_key(ticket: str) -> str:
    """Where a ticket is kept: under its hash, so the cache never holds a usable ticket."""
    return "realtime:ticket:" + hashlib.sha256(ticket.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Holder:
    """Who a ticket was issued to, until when the access token behind it was valid, and what
    that token stood on: a user's login session (its ``sid``) or an API client. A socket lives
    only while that still authenticates, as every HTTP request checks it."""

    actor: Actor
    valid_until: datetime
    session_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None


CLIENT_PREFIX = "client:"


def client_id_of(actor: Actor) -> uuid.UUID | None:
    """The API client an actor of kind ``client`` is (``Actor.client`` names it so)."""
    if actor.kind is not ActorKind.CLIENT or not actor.id.startswith(CLIENT_PREFIX):
        return None
    try:
        return uuid.UUID(actor.id.removeprefix(CLIENT_PREFIX))
    except ValueError:
        return None


def _uuid(value: object) -> uuid.UUID | None:
    return uuid.UUID(str(value)) if value else None


def dump_holder(holder: Holder) -> str:
    actor = holder.actor
    return json.dumps(
        {
            "session_id": str(holder.session_id) if holder.session_id else None,
            "client_id": str(holder.client_id) if holder.client_id else None,
            "kind": actor.kind.value,
            "id": actor.id,
            "role": actor.role.value if actor.role else None,
            "permissions": sorted(p.value for p in actor.permissions),
            "user_id": str(actor.user_id) if actor.user_id else None,
            "authority": actor.authority,
            "valid_until": int(holder.valid_until.timestamp()),
        }
    )


def load_holder(text: str) -> Holder | None:
    try:
        raw: dict[str, Any] = json.loads(text)
        actor = Actor(
            kind=ActorKind(raw["kind"]),
            id=str(raw["id"]),
            role=Role(raw["role"]) if raw["role"] else None,
            permissions=frozenset(Permission(p) for p in raw["permissions"]),
            user_id=_uuid(raw["user_id"]),
            authority=int(raw["authority"]),
        )
        return Holder(
            actor,
            datetime.fromtimestamp(int(raw["valid_until"]), UTC),
            session_id=_uuid(raw["session_id"]),
            client_id=_uuid(raw["client_id"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class Request:
    """A connection's query: its ticket, where to resume, which types."""

    ticket: str
    last_event_id: int | None
    types: tuple[str, ...]


MAX_POSITION = 2**62


def parse_request(query: list[tuple[str, str]]) -> Request | str:
    """The connection's parameters, or what is wrong with them."""
    tickets = [v for k, v in query if k == "ticket"]
    resume = [v for k, v in query if k == "last_event_id"]
    types = tuple(v for k, v in query if k == "type")
    if len(tickets) > 1 or len(resume) > 1:
        return "ticket and last_event_id may each be given once"
    if len(types) > 50:
        return "at most 50 type filters"
    last_event_id: int | None = None
    if resume:
        if not resume[0].isascii() or not resume[0].isdigit() or len(resume[0]) > 19:
            return "last_event_id must be a position (a whole number >= 0)"
        last_event_id = int(resume[0])
        if last_event_id > MAX_POSITION:
            return "last_event_id is beyond any position"
    return Request(tickets[0] if tickets else "", last_event_id, types)


def frame(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def heartbeat(position: int) -> str:
    return frame({"type": "heartbeat", "id": position})


PONG = frame({"type": "pong"})


def is_ping(text: str) -> bool:
    if len(text) > 256:
        return False
    try:
        raw = json.loads(text)
    except ValueError:
        return False
    return isinstance(raw, dict) and raw.get("type") == "ping"
