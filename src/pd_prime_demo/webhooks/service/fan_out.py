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
from pd_prime_demo.webhooks.models import WebhookSubscription
from pd_prime_demo.webhooks.rules import has_company_reach
from pd_prime_demo.webhooks.service.deliveries import REPLAY_TOPIC

OWN_NOTICES = "webhook."


async def may_receive(
    session: AsyncSession,
    recipient: Actor | None,
    subscription: WebhookSubscription,
    event: OutboxEvent,
) -> bool:
    """Whether the subscription's client (``recipient``: its actor, None if not live) may
    have the event, now."""
    if recipient is None:
        return False
    if event.topic.startswith(OWN_NOTICES):
        return event.payload.get("client_id") == str(subscription.client_id)
    if not recipient.has(Permission.EVENTS_READ):
        return False
    if event.customer_id is None:
        return has_company_reach(recipient)
    return await customers.may_see(session, event.customer_id, actor=recipient)


async def fan_out(session: AsyncSession, event_id: int, *, now: datetime) -> list[uuid.UUID]:
    """Make the event's deliveries, due now; the ids of those made (none the second time).
    The caller defers their attempts once this commits."""
    event = await repository.get_published_event(session, event_id)
    # An unpublished event has no position (its webhook-id) yet: the relay defers its fan-out
    # again when it publishes it. A replay's event is internal: it only wakes deliveries.
    if event is None or event.position is None or event.topic == REPLAY_TOPIC:
        return []
    recipients: list[uuid.UUID] = []
    actors: dict[uuid.UUID, Actor | None] = {}
    for subscription in await repository.matching_subscriptions(session, event):
        if subscription.client_id not in actors:
            actors[subscription.client_id] = await client_actor(session, subscription.client_id)
        if await may_receive(session, actors[subscription.client_id], subscription, event):
            recipients.append(subscription.id)
    return await repository.add_deliveries(session, event, recipients, now=now)


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
