"""Webhook queries: the only module that builds SQL on the webhook tables.

A subscription is read through :func:`managed_by`'s filter (its client, the client's owner, an
administrator); deliveries and attempts are read through their subscription. The queries of
attempts (claims, the endpoint's state, the sweep's) are in :mod:`.attempts`, named here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.outbox import OutboxEvent
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Result
from pd_prime_demo.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from pd_prime_demo.webhooks.repository.attempts import (
    add_attempt,
    claim,
    due,
    due_of,
    lock_delivery,
    mark_failing,
    mark_success,
    overdue,
    pause,
    take_probe,
)
from pd_prime_demo.webhooks.rules import client_id_of, manages_all, patterns_for

__all__ = [
    "Delivery",
    "Sub",
    "add_attempt",
    "add_deliveries",
    "attempts_of",
    "claim",
    "count_of_client",
    "delete",
    "due",
    "due_of",
    "fail_pending",
    "get_delivery",
    "get_event",
    "get_managed",
    "get_published_event",
    "get_subscription",
    "lock_delivery",
    "lock_subscription",
    "managed_by",
    "mark_failing",
    "mark_success",
    "matching",
    "matching_subscriptions",
    "overdue",
    "page_deliveries",
    "page_managed",
    "pause",
    "replay_failed",
    "take_probe",
]

Sub = WebhookSubscription
Delivery = WebhookDelivery


def managed_by(actor: Actor) -> ColumnElement[bool] | None:
    """The subscriptions ``actor`` may manage; None: all of them."""
    if (client_id := client_id_of(actor)) is not None:
        return Sub.client_id == client_id
    if manages_all(actor):
        return None
    if actor.user_id is not None:
        return Sub.owner_id == actor.user_id
    return false()


def _managed(query: Select[Any], actor: Actor) -> Select[Any]:
    condition = managed_by(actor)
    return query if condition is None else query.where(condition)


async def get_managed(
    session: AsyncSession, subscription_id: uuid.UUID, *, actor: Actor, for_update: bool = False
) -> WebhookSubscription | None:
    query = _managed(select(Sub).where(Sub.id == subscription_id), actor)
    if for_update:
        query = query.with_for_update()
    found: WebhookSubscription | None = await session.scalar(query)
    return found


async def get_subscription(
    session: AsyncSession, subscription_id: uuid.UUID
) -> WebhookSubscription | None:
    """The subscription, whoever manages it (the system's own use: attempts)."""
    return await session.get(Sub, subscription_id)


async def lock_subscription(
    session: AsyncSession, subscription_id: uuid.UUID
) -> WebhookSubscription | None:
    """The subscription, locked (the system's own use: attempts, disabling)."""
    return await session.scalar(select(Sub).where(Sub.id == subscription_id).with_for_update())


async def page_managed(
    session: AsyncSession,
    *,
    actor: Actor,
    client_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[WebhookSubscription], str | None], DomainError]:
    query = _managed(select(Sub), actor)
    if client_id is not None:
        query = query.where(Sub.client_id == client_id)
    return await keyset_page(session, query, Sub, cursor=cursor, limit=limit)


async def delete(session: AsyncSession, subscription: WebhookSubscription) -> None:
    await session.delete(subscription)
    await session.flush()


# --- the fan-out -----------------------------------------------------------------------------


async def get_event(session: AsyncSession, event_id: int) -> OutboxEvent | None:
    return await session.get(OutboxEvent, event_id)


async def get_published_event(session: AsyncSession, event_id: int) -> OutboxEvent | None:
    """The event, once the relay that publishes it has committed: the relay defers the
    event's jobs before its numbering commits, and holds the row's lock till then, so reading
    it ``FOR SHARE`` waits for that commit and then sees the event's ``position``."""
    return await session.get(OutboxEvent, event_id, with_for_update={"read": True})


def matching(
    event: OutboxEvent, *, after: uuid.UUID | None = None, limit: int = 500
) -> Select[uuid.UUID, uuid.UUID]:
    """The enabled subscriptions that want ``event``'s type and existed when it happened,
    (id, client id) a page at a time in id order: those whose patterns share one with the
    patterns the type matches (``&&``, on the GIN index over the enabled ones)."""
    query = select(Sub.id, Sub.client_id).where(
        # ``enabled`` itself: ``enabled IS true`` does not imply the index's ``WHERE enabled``,
        # and the planner would then scan every subscription.
        Sub.enabled,
        Sub.created_at <= event.occurred_at,
        Sub.event_types.overlap(patterns_for(event.topic)),
    )
    if after is not None:
        query = query.where(Sub.id > after)
    return query.order_by(Sub.id).limit(limit)


async def matching_subscriptions(
    session: AsyncSession, event: OutboxEvent, *, after: uuid.UUID | None, limit: int
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """A page of :func:`matching`: (subscription id, client id)."""
    rows = (await session.execute(matching(event, after=after, limit=limit))).all()
    return [(subscription_id, client_id) for subscription_id, client_id in rows]


async def add_deliveries(
    session: AsyncSession,
    event: OutboxEvent,
    subscription_ids: Sequence[uuid.UUID],
    *,
    now: datetime,
) -> list[uuid.UUID]:
    """A pending delivery of ``event`` per subscription, due now; the ids of those it made
    (a subscription that has one already keeps it: fanning out twice delivers once)."""
    if not subscription_ids:
        return []
    rows = [
        {
            "id": uuid.uuid4(),
            "subscription_id": subscription_id,
            "event_id": event.id,
            "event_type": event.topic,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for subscription_id in subscription_ids
    ]
    statement = (
        insert(Delivery)
        .values(rows)
        .on_conflict_do_nothing(constraint="uq_webhook_deliveries_event")
        .returning(Delivery.id)
    )
    return list((await session.scalars(statement)).all())


async def count_of_client(session: AsyncSession, client_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Sub).where(Sub.client_id == client_id)
        )
        or 0
    )


# --- the delivery log ------------------------------------------------------------------------


async def page_deliveries(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    status: DeliveryStatus | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[WebhookDelivery], str | None], DomainError]:
    query = select(Delivery).where(Delivery.subscription_id == subscription_id)
    if status is not None:
        query = query.where(Delivery.status == status.value)
    return await keyset_page(session, query, Delivery, cursor=cursor, limit=limit, descending=True)


async def get_delivery(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    delivery_id: uuid.UUID,
    *,
    for_update: bool = False,
) -> WebhookDelivery | None:
    query = select(Delivery).where(
        Delivery.id == delivery_id, Delivery.subscription_id == subscription_id
    )
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[uuid.UUID], *, limit_each: int
) -> dict[uuid.UUID, list[WebhookAttempt]]:
    """The newest ``limit_each`` attempts of each delivery, newest first."""
    if not delivery_ids:
        return {}
    ranked = (
        select(
            WebhookAttempt.id,
            func.row_number()
            .over(
                partition_by=WebhookAttempt.delivery_id,
                order_by=(WebhookAttempt.attempted_at.desc(), WebhookAttempt.id.desc()),
            )
            .label("n"),
        )
        .where(WebhookAttempt.delivery_id.in_(delivery_ids))
        .subquery()
    )
    query = (
        select(WebhookAttempt)
        .join(ranked, ranked.c.id == WebhookAttempt.id)
        .where(ranked.c.n <= limit_each)
        .order_by(WebhookAttempt.attempted_at.desc(), WebhookAttempt.id.desc())
    )
    found: dict[uuid.UUID, list[WebhookAttempt]] = {d: [] for d in delivery_ids}
    for attempt in (await session.scalars(query)).all():
        found[attempt.delivery_id].append(attempt)
    return found


async def fail_pending(
    session: AsyncSession, subscription_id: uuid.UUID, *, now: datetime, reason: str
) -> int:
    """End the subscription's pending deliveries as failed (it was disabled): a replay after
    it is enabled again sends them."""
    statement = (
        update(Delivery)
        .where(
            Delivery.subscription_id == subscription_id,
            Delivery.status == DeliveryStatus.PENDING.value,
        )
        .values(
            status=DeliveryStatus.FAILED.value,
            next_attempt_at=None,
            completed_at=now,
            updated_at=now,
            last_error=reason,
        )
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def replay_failed(
    session: AsyncSession, subscription_id: uuid.UUID, *, since: datetime, now: datetime
) -> int:
    """Every failed delivery of the subscription made since ``since`` starts again, due now."""
    statement = (
        update(Delivery)
        .where(
            Delivery.subscription_id == subscription_id,
            Delivery.status == DeliveryStatus.FAILED.value,
            Delivery.created_at >= since,
        )
        .values(
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            completed_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]
