"""One attempt of a delivery, in three steps: claim it, send it (outside any transaction: a
receiver may take seconds), record what happened and when the next attempt is due.

Claiming counts the attempt and moves its due time past a lease, so a second job for the same
delivery finds nothing to do, and a worker that vanished mid-attempt is made up for by the
sweep once the lease ends. Every attempt is logged; after the last one of the schedule fails,
the delivery is ``failed``. A subscription whose every attempt has failed for days is disabled,
its client and owner told (``webhook.subscription_disabled``) and the change audited.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.after_commit import after_commit
from pd_prime_demo.core.outbox import OutboxEvent, emit
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.telemetry import WEBHOOK_DELIVERIES, WEBHOOK_LATENCY
from pd_prime_demo.webhooks import repository
from pd_prime_demo.webhooks.clients import client_actor
from pd_prime_demo.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from pd_prime_demo.webhooks.rules import (
    DEFAULT_POLICY,
    DeliveryPolicy,
    NetworkPolicy,
    Target,
    failing_for_too_long,
    message_body,
    message_id,
    parse_url,
    signature_headers,
)
from pd_prime_demo.webhooks.service.fan_out import may_receive
from pd_prime_demo.webhooks.service.network import Exchange, post
from pd_prime_demo.webhooks.service.subscriptions import reveal_secret, secret_context

SYSTEM = Actor.system("webhooks")
DISABLED_TOPIC = "webhook.subscription_disabled"

OUTCOMES = ("delivered", "failed", "retrying", "disabled")
# Every outcome exported from the start at 0, so the first disabled subscription is a rise
# that increase() sees, not a series appearing from nothing.
for _outcome in OUTCOMES:
    WEBHOOK_DELIVERIES.labels(outcome=_outcome)


@dataclass(frozen=True, slots=True)
class Request:
    target: Target
    msg_id: str
    body: str
    signing_secrets: list[str]
    attempts: int  # this attempt's number in the current run


async def attempt(
    runtime: Runtime, delivery_id: uuid.UUID, *, policy: DeliveryPolicy = DEFAULT_POLICY
) -> int | None:
    """Make the delivery's due attempt, if one is due; seconds until the next one, or None
    (succeeded, failed for good, or nothing was due)."""
    network = NetworkPolicy.for_env(runtime.settings.env)
    async with runtime.db.unit_of_work() as session:
        prepared = await _claim(session, runtime, delivery_id, network, policy)
    if prepared is None or isinstance(prepared, int):
        return prepared  # nothing due, or put off while its endpoint's breaker is open
    now = clock.now()
    headers = signature_headers(prepared.msg_id, now, prepared.body, prepared.signing_secrets)
    exchange = await post(
        prepared.target,
        prepared.body,
        headers,
        policy=network,
        within=policy.timeout_seconds,
    )
    async with runtime.db.unit_of_work() as session:
        return await _record(session, delivery_id, prepared.attempts, now, exchange, policy)


async def _claim(
    session: AsyncSession,
    runtime: Runtime,
    delivery_id: uuid.UUID,
    network: NetworkPolicy,
    policy: DeliveryPolicy,
) -> Request | int | None:
    """The request to make; or seconds until the delivery is tried again without an attempt
    (its endpoint is paused); or None (nothing due, or it ended unsent)."""
    now = clock.now()
    lease = timedelta(seconds=policy.lease_seconds)
    delivery = await repository.claim(session, delivery_id, now=now, lease=lease)
    if delivery is None:
        return None
    subscription = await repository.get_subscription(session, delivery.subscription_id)
    event = await repository.get_event(session, delivery.event_id)
    assert subscription is not None  # the foreign key (deleting it deletes the delivery)
    refusal = await _refusal(session, subscription, event)
    # The URL was checked when saved; the environment's rules may have changed since.
    target = parse_url(subscription.url, network)
    if refusal is None and isinstance(target, str):
        refusal = target
    if refusal is not None or event is None or event.position is None or isinstance(target, str):
        # Not sent, so not an attempt: the delivery ends failed (a replay may send it later).
        delivery.attempts -= 1
        _finish(delivery, DeliveryStatus.FAILED, now, refusal)
        return None
    if subscription.paused_until is not None and (
        until := await repository.take_probe(
            session, subscription.id, now=now, lease=timedelta(seconds=policy.probe_seconds)
        )
    ):
        # Its endpoint failed attempt after attempt: this one waits, uncounted, so that a
        # black hole holds one worker slot at a time (the probe), not one per delivery.
        delivery.attempts -= 1
        delivery.next_attempt_at = until
        delivery.updated_at = now
        return max(1, math.ceil((until - now).total_seconds()))
    signing = [reveal_secret(subscription, runtime.cipher)]
    if subscription.previous_secret and (subscription.previous_secret_expires_at or now) > now:
        signing.append(
            runtime.cipher.decrypt(
                subscription.previous_secret,
                context=secret_context(subscription.id, previous=True),
            )
        )
    body = message_body(
        position=event.position,
        topic=event.topic,
        occurred_at=event.occurred_at,
        payload=event.payload,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        customer_id=str(event.customer_id) if event.customer_id else None,
    )
    return Request(target, message_id(event.position), body, signing, delivery.attempts)


async def _refusal(
    session: AsyncSession, subscription: WebhookSubscription, event: OutboxEvent | None
) -> str | None:
    """Why the delivery may not be sent now, if it may not."""
    if event is None:
        return "the event is no longer kept"
    if event.position is None:  # cannot be: deliveries are made of published events only
        return "the event is not published"
    if not subscription.enabled:
        return "the subscription is disabled"
    recipient = await client_actor(session, subscription.client_id)
    if not await may_receive(session, recipient, subscription.client_id, event):
        return "the client may no longer receive this event (revoked, or out of its reach)"
    return None


def _finish(
    delivery: WebhookDelivery, status: DeliveryStatus, now: datetime, error: str | None
) -> None:
    delivery.status = status.value
    delivery.next_attempt_at = None
    delivery.completed_at = now
    delivery.updated_at = now
    delivery.last_error = error


async def _record(
    session: AsyncSession,
    delivery_id: uuid.UUID,
    attempts: int,
    now: datetime,
    exchange: Exchange,
    policy: DeliveryPolicy,
) -> int | None:
    delivery = await repository.lock_delivery(session, delivery_id)
    if delivery is None:  # its subscription was deleted meanwhile
        return None
    repository.add_attempt(
        session,
        WebhookAttempt(
            delivery_id=delivery_id,
            attempted_at=now,
            status_code=exchange.status_code,
            latency_ms=exchange.latency_ms,
            error=exchange.error,
            response_excerpt=exchange.excerpt,
        ),
    )
    if delivery.status != DeliveryStatus.PENDING or delivery.attempts != attempts:
        return None  # not the run this attempt was claimed in (cannot happen while leased)
    if exchange.ok:
        _finish(delivery, DeliveryStatus.SUCCEEDED, now, None)
        await repository.mark_success(session, delivery.subscription_id, now=now)
        _count(session, "delivered", exchange)
        return None
    retry_in = policy.retry_in(attempts)
    if retry_in is None:
        _finish(delivery, DeliveryStatus.FAILED, now, exchange.error)
    else:
        delivery.next_attempt_at = now + timedelta(seconds=retry_in)
        delivery.updated_at = now
        delivery.last_error = exchange.error
    failing = await repository.mark_failing(session, delivery.subscription_id, now=now)
    if failing is not None and failing_for_too_long(failing[0], now, policy):
        await _disable_failing(session, delivery.subscription_id, now)
        _count(session, "disabled", exchange)
        return None
    _count(session, "failed" if retry_in is None else "retrying", exchange)
    if failing is None:
        return retry_in
    failing_since, in_a_row = failing
    if (paused_until := policy.paused_until(in_a_row, failing_since, now)) is not None:
        await repository.pause(session, delivery.subscription_id, until=paused_until)
        if retry_in is not None and delivery.next_attempt_at is not None:
            # No sooner than the endpoint is tried again.
            delivery.next_attempt_at = max(delivery.next_attempt_at, paused_until)
            retry_in = math.ceil((delivery.next_attempt_at - now).total_seconds())
    return retry_in


def _count(session: AsyncSession, outcome: str, exchange: Exchange) -> None:
    """Count the attempt once its outcome is committed (a rolled-back record is retried)."""

    def count() -> None:
        WEBHOOK_DELIVERIES.labels(outcome=outcome).inc()
        WEBHOOK_LATENCY.labels(outcome=outcome).observe(exchange.latency_ms / 1000)

    after_commit(session, count)


async def _disable_failing(
    session: AsyncSession, subscription_id: uuid.UUID, now: datetime
) -> None:
    subscription = await repository.lock_subscription(session, subscription_id)
    if subscription is None or not subscription.enabled:
        return
    subscription.enabled = False
    subscription.disabled_reason = "failing"
    subscription.disabled_at = now
    subscription.version += 1
    subscription.updated_at = now
    # Its pending deliveries stop, this one's included (flushed first): a replay sends them
    # once the subscription is enabled again.
    await repository.fail_pending(
        session, subscription.id, now=now, reason="the subscription was disabled: failing"
    )
    facts = {
        "subscription_id": str(subscription.id),
        "client_id": str(subscription.client_id),
        "owner_id": str(subscription.owner_id),
        "failing_since": subscription.failing_since.isoformat()
        if subscription.failing_since
        else None,
    }
    # The owner is told through the outbox (e-mail will read it); the client's other
    # subscriptions to webhook.* receive it too.
    emit(session, DISABLED_TOPIC, "webhook_subscription", str(subscription.id), facts)
    await audit.record(
        session,
        SYSTEM,
        DISABLED_TOPIC,
        "webhook_subscription",
        str(subscription.id),
        {"reason": "failing", "failing_since": facts["failing_since"]},
    )


async def subscription_states(session: AsyncSession) -> dict[str, int]:
    """Subscriptions by state, ``active`` and ``disabled`` (both always present): the metric
    that shows receivers this module gave up on."""
    state = case((WebhookSubscription.enabled, "active"), else_="disabled")
    rows = (await session.execute(select(state, func.count()).group_by(state))).all()
    return {"active": 0, "disabled": 0} | {str(name): int(n) for name, n in rows}
