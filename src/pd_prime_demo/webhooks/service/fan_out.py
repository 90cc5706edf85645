"""From a published event to deliveries: one per subscription that wants it and may see it.

A subscription receives an event only while its client could read the event itself: the
client is live, holds ``events:read``, and sees the event's customer (``customer_id``, through
customers' own visibility: an agent's client sees the agent's book); an event about no
customer (the company's own, such as a product published) goes only to clients of staff who
see the whole company. Notices about a subscription (``webhook.*``) go only to its own client.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.outbox import OutboxEvent
from pd_prime_demo.customers import service as customers
from pd_prime_demo.webhooks import repository
from pd_prime_demo.webhooks.clients import client_actor
from pd_prime_demo.webhooks.rules import has_company_reach
from pd_prime_demo.webhooks.service.deliveries import REPLAY_TOPIC

OWN_NOTICES = "webhook."
CHUNK = 500  # subscriptions read at a time


async def may_receive(
    session: AsyncSession,
    recipient: Actor | None,
    client_id: uuid.UUID,
    event: OutboxEvent,
    *,
    seen: dict[object, bool] | None = None,
) -> bool:
    """Whether the client ``client_id`` (``recipient``: its actor, None if not live) may have
    the event, now. ``seen`` keeps, within one fan-out, whether each kind of viewer sees the
    event's customer (every client of one agent sees the agent's book)."""
    if recipient is None:
        return False
    if event.topic.startswith(OWN_NOTICES):
        return event.payload.get("client_id") == str(client_id)
    if not recipient.has(Permission.EVENTS_READ):
        return False
    if event.customer_id is None:
        return has_company_reach(recipient)
    viewer = customers.Visibility.of(recipient)
    if seen is None or viewer not in seen:
        sees = await customers.may_see(session, event.customer_id, actor=recipient)
        if seen is None:
            return sees
        seen[viewer] = sees
    return seen[viewer]


async def fan_out(
    session: AsyncSession, event_id: int, *, now: datetime, chunk: int = CHUNK
) -> list[uuid.UUID]:
    """Make the event's deliveries, due now; the ids of those made (none the second time).
    The caller defers their attempts once this commits.

    Subscriptions are read a chunk at a time; whether a client may receive the event is
    decided once per client (its actor read once), and whether a kind of viewer sees the
    event's customer once per viewer, not once per subscription."""
    event = await repository.get_published_event(session, event_id)
    # An unpublished event has no position (its webhook-id) yet: the relay defers its fan-out
    # again when it publishes it. A replay's event is internal: it only wakes deliveries.
    if event is None or event.position is None or event.topic == REPLAY_TOPIC:
        return []
    decided: dict[uuid.UUID, bool] = {}
    seen: dict[object, bool] = {}
    made: list[uuid.UUID] = []
    after: uuid.UUID | None = None
    while True:
        page = await repository.matching_subscriptions(session, event, after=after, limit=chunk)
        recipients: list[uuid.UUID] = []
        for subscription_id, client_id in page:
            if client_id not in decided:
                recipient = await client_actor(session, client_id)
                decided[client_id] = await may_receive(
                    session, recipient, client_id, event, seen=seen
                )
            if decided[client_id]:
                recipients.append(subscription_id)
        made += await repository.add_deliveries(session, event, recipients, now=now)
        if len(page) < chunk:
            return made
        after = page[-1][0]


async def replayed(
    session: AsyncSession, event_id: int, *, now: datetime, after: uuid.UUID | None, limit: int
) -> list[uuid.UUID]:
    """For a replay's event: the next chunk of its subscription's deliveries due now."""
    event = await repository.get_event(session, event_id)
    if event is None or event.topic != REPLAY_TOPIC:
        return []
    subscription_id = uuid.UUID(event.aggregate_id)
    return await repository.due_of(session, subscription_id, now=now, after=after, limit=limit)


async def overdue(session: AsyncSession, *, before: datetime, limit: int) -> list[uuid.UUID]:
    """Pending deliveries nobody woke in time (a job lost between a commit and its defer, a
    worker gone mid-attempt): the sweep defers them again."""
    return await repository.overdue(session, before=before, limit=limit)
