"""The delivery log of a subscription, and replays: a failed delivery (or every one since a
moment) starts its schedule again, woken through the outbox once the replay commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    invalid,
    not_found,
)
from pd_prime_demo.webhooks import repository
from pd_prime_demo.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from pd_prime_demo.webhooks.service.subscriptions import NOT_FOUND

# Internal: wakes the deliveries a replay made pending (see ``fan_out``); never delivered.
REPLAY_TOPIC = "webhook.replay_requested"
DELIVERY_NOT_FOUND = not_found("webhook_delivery")
ATTEMPTS_SHOWN = 100


@dataclass(frozen=True, slots=True)
class DeliveryWithAttempts:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


async def _subscription(
    session: AsyncSession, subscription_id: uuid.UUID, actor: Actor
) -> WebhookSubscription | None:
    return await repository.get_managed(session, subscription_id, actor=actor)


async def list_deliveries(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    actor: Actor,
    status: DeliveryStatus | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[WebhookDelivery], str | None], DomainError]:
    """Newest first."""
    if await _subscription(session, subscription_id, actor) is None:
        return Err(NOT_FOUND)
    return await repository.page_deliveries(
        session, subscription_id, status=status, cursor=cursor, limit=limit
    )


async def get_delivery(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID, *, actor: Actor
) -> Result[DeliveryWithAttempts, DomainError]:
    if await _subscription(session, subscription_id, actor) is None:
        return Err(NOT_FOUND)
    delivery = await repository.get_delivery(session, subscription_id, delivery_id)
    if delivery is None:
        return Err(DELIVERY_NOT_FOUND)
    attempts = await repository.attempts_of(session, [delivery.id], limit_each=ATTEMPTS_SHOWN)
    return Ok(DeliveryWithAttempts(delivery, attempts[delivery.id]))


def _wake(session: AsyncSession, subscription: WebhookSubscription) -> None:
    # A replay is asked for once the receiver is fixed: its endpoint's breaker closes, so the
    # replayed deliveries go at once (five failures in a row open it again).
    subscription.consecutive_failures = 0
    subscription.paused_until = None
    emit(
        session,
        REPLAY_TOPIC,
        "webhook_subscription",
        str(subscription.id),
        {"subscription_id": str(subscription.id), "client_id": str(subscription.client_id)},
    )


def _must_be_enabled(subscription: WebhookSubscription) -> DomainError | None:
    if subscription.enabled:
        return None
    return conflict(
        "webhook.subscription_disabled", "the subscription is disabled: enable it to replay"
    )


async def replay_delivery(
    session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID, *, actor: Actor
) -> Result[WebhookDelivery, DomainError]:
    """Send a finished delivery (failed or succeeded) again, on a fresh schedule; the receiver
    sees the same ``webhook-id``."""
    subscription = await _subscription(session, subscription_id, actor)
    if subscription is None:
        return Err(NOT_FOUND)
    if (refused := _must_be_enabled(subscription)) is not None:
        return Err(refused)
    delivery = await repository.get_delivery(session, subscription_id, delivery_id, for_update=True)
    if delivery is None:
        return Err(DELIVERY_NOT_FOUND)
    if delivery.status == DeliveryStatus.PENDING:
        return Err(conflict("webhook.delivery_pending", "the delivery is under way already"))
    now = clock.now()
    delivery.status = DeliveryStatus.PENDING.value
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.completed_at = None
    delivery.updated_at = now
    _wake(session, subscription)
    await audit.record(
        session, actor, "webhook.delivery_replayed", "webhook_delivery", str(delivery.id)
    )
    return Ok(delivery)


async def replay_failed(
    session: AsyncSession, subscription_id: uuid.UUID, *, since: datetime, actor: Actor
) -> Result[int, DomainError]:
    """Every failed delivery of the subscription made since ``since`` starts again."""
    subscription = await _subscription(session, subscription_id, actor)
    if subscription is None:
        return Err(NOT_FOUND)
    if (refused := _must_be_enabled(subscription)) is not None:
        return Err(refused)
    now = clock.now()
    if since > now:
        return Err(
            invalid(
                "webhook.replay_since_future",
                "replay failures since a past moment",
                FieldIssue("#/since", "is in the future"),
            )
        )
    count = await repository.replay_failed(session, subscription_id, since=since, now=now)
    if count:
        _wake(session, subscription)
    await audit.record(
        session,
        actor,
        "webhook.deliveries_replayed",
        "webhook_subscription",
        str(subscription_id),
        {"since": since.isoformat(), "count": count},
    )
    return Ok(count)
