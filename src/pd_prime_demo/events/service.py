"""The event stream: published events in commit order, filtered by type and by what the actor
may see, and the same filter in the form live updates apply it to a batch of events.

The cursor is the plain ``position`` of the relay (``events.relay``): gap free and in commit
order, so a reader that has seen up to P has seen every event it may see up to P, and resumes
after P. ``next_cursor`` is always given: the last position returned on a full page, else the
head of the stream when read (nothing visible lay between), so an idle poller's cursor keeps
up with the stream rather than rescanning what it may not see.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    forbidden,
    invalid,
    not_found,
)
from pd_prime_demo.customers import service as customers
from pd_prime_demo.events import repository, rules
from pd_prime_demo.events.catalogue import (
    ADMIN_TYPES,
    CATALOGUE,
    INTERNAL_TYPES,
    OWNER_MEMBER,
    TypeFilter,
    parse_filter,
)
from pd_prime_demo.events.relay import EVENTS_CHANNEL
from pd_prime_demo.events.repository import Published

__all__ = [
    "CATALOGUE",
    "EVENTS_CHANNEL",
    "Audience",
    "Page",
    "Published",
    "Recipients",
    "TypeFilter",
    "admits",
    "audience_of",
    "get_event",
    "head",
    "message",
    "parse_types",
    "published_after",
    "read_stream",
    "recipients",
]

MAX_LIMIT = 1000
NOT_FOUND = not_found("event")
FORBIDDEN = forbidden("auth.permission_missing", "this requires the events:read permission")


@dataclass(frozen=True, slots=True)
class Page:
    events: list[Published]
    next_cursor: int


def parse_types(patterns: Sequence[str]) -> Result[TypeFilter, DomainError]:
    match parse_filter(patterns):
        case TypeFilter() as types:
            return Ok(types)
        case why:
            return Err(invalid("events.unknown_type", why, FieldIssue("#/type", why)))


def _visible(actor: Actor) -> repository.Scope:
    kind, _ = customers.Visibility.of(actor)
    return repository.Scope(
        customers=customers.visible_ids(actor) if kind not in _UNFILTERED else None,
        every_customer=kind is customers.Visibility.ALL,
        company=rules.sees_company_events(actor),
        admin=rules.sees_admin_events(actor),
        owner=rules.notices_owner(actor),
    )


_UNFILTERED = frozenset({customers.Visibility.ALL, customers.Visibility.NONE})


async def read_stream(
    session: AsyncSession,
    *,
    actor: Actor,
    after: int = 0,
    types: TypeFilter | Sequence[str] = (),
    limit: int = 100,
) -> Result[Page, DomainError]:
    """The events after position ``after`` that ``actor`` may see, oldest first."""
    if not actor.has(Permission.EVENTS_READ):
        return Err(FORBIDDEN)
    if after < 0 or not 1 <= limit <= MAX_LIMIT:
        return Err(invalid("events.bad_page", f"after >= 0 and 1 <= limit <= {MAX_LIMIT}"))
    if not isinstance(types, TypeFilter):
        match parse_types(types):
            case Err() as err:
                return err
            case Ok(types):
                pass
    found, newest = await repository.page(
        session, after=after, limit=limit, types=types, scope=_visible(actor)
    )
    if len(found) == limit:
        return Ok(Page(found, found[-1].position))
    return Ok(Page(found, max(after, newest)))


async def get_event(
    session: AsyncSession, position: int, *, actor: Actor
) -> Result[Published, DomainError]:
    """One published event by its position; 404 if it is not there or not the actor's to see."""
    if not actor.has(Permission.EVENTS_READ):
        return Err(FORBIDDEN)
    found = await repository.one(session, position, scope=_visible(actor))
    return Ok(found) if found is not None else Err(NOT_FOUND)


def message(event: Published) -> dict[str, Any]:
    """An event as the API and live updates present it (JSON-ready)."""
    return {
        "id": event.position,
        "type": event.type,
        "occurred_at": _text(event.occurred_at),
        "aggregate_type": event.aggregate_type,
        "aggregate_id": event.aggregate_id,
        "data": event.data,
    }


def _text(moment: datetime) -> str:
    # As the API's models write a moment (RFC 3339 in UTC with Z), so both read alike.
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Live updates: one read of each new batch per server process, filtered per connection.


async def head(session: AsyncSession) -> int:
    """The newest published position (0 before the first)."""
    return await repository.head(session)


async def published_after(session: AsyncSession, position: int, *, limit: int) -> list[Published]:
    """Every event after ``position``, unfiltered: the caller filters with :func:`admits`."""
    return await repository.after(session, position, limit=limit)


@dataclass(frozen=True, slots=True)
class Audience:
    """Whose events a reader receives, in the form a batch is matched against in memory."""

    actor: Actor
    kind: customers.Visibility
    viewer: uuid.UUID | None
    company: bool
    admin: bool = False
    owner: uuid.UUID | None = None


def audience_of(actor: Actor) -> Audience:
    kind, viewer = customers.Visibility.of(actor)
    return Audience(
        actor,
        kind,
        viewer,
        rules.sees_company_events(actor),
        rules.sees_admin_events(actor),
        rules.notices_owner(actor),
    )


Recipients = set[tuple[customers.Visibility, uuid.UUID, uuid.UUID]]


async def recipients(
    session: AsyncSession, batch: Sequence[Published], audiences: Iterable[Audience]
) -> Recipients:
    """Which viewers of ``audiences`` may see the customers of ``batch``: one query per kind
    of viewer (agents, policyholders), whatever their number."""
    customer_ids = sorted({e.customer_id for e in batch if e.customer_id is not None})
    groups: dict[customers.Visibility, dict[uuid.UUID, Actor]] = {}
    for audience in audiences:
        if audience.kind not in _UNFILTERED and audience.viewer is not None:
            groups.setdefault(audience.kind, {})[audience.viewer] = audience.actor
    found: Recipients = set()
    for kind, viewers in groups.items():
        some = next(iter(viewers.values()))
        pairs = await repository.audiences(
            session,
            customers.visible_ids(some),
            viewers=sorted(viewers),
            customer_ids=customer_ids,
        )
        found |= {(kind, viewer, customer_id) for viewer, customer_id in pairs}
    return found


def admits(audience: Audience, event: Published, allowed: Recipients) -> bool:
    """Whether ``audience`` may see ``event``, given the batch's :func:`recipients`."""
    if event.type in INTERNAL_TYPES:
        return False
    if event.customer_id is None:
        if event.type not in ADMIN_TYPES:
            return audience.company
        owner = event.data.get(OWNER_MEMBER)
        return audience.admin or (audience.owner is not None and owner == str(audience.owner))
    if audience.kind is customers.Visibility.ALL:
        return True
    return (
        audience.viewer is not None
        and (audience.kind, audience.viewer, event.customer_id) in allowed
    )
