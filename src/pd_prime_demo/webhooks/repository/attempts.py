"""Webhook attempts' queries: claiming a delivery's attempt, the endpoint's state (failing,
its circuit breaker), and the deliveries the sweep and replays wake."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Select, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.webhooks.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from pd_prime_demo.webhooks.rules import DELIVER_TASK

Sub = WebhookSubscription
Delivery = WebhookDelivery


async def claim(
    session: AsyncSession, delivery_id: uuid.UUID, *, now: datetime, lease: timedelta
) -> WebhookDelivery | None:
    """Take the delivery's due attempt: counted, and not due again until the lease ends (so a
    second job for it does nothing). None if it is not pending or not yet due."""
    statement = (
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.status == DeliveryStatus.PENDING.value,
            Delivery.next_attempt_at <= now,
        )
        .values(attempts=Delivery.attempts + 1, next_attempt_at=now + lease, updated_at=now)
        .returning(Delivery)
        .execution_options(synchronize_session=False)
    )
    return await session.scalar(statement)


async def lock_delivery(session: AsyncSession, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    return await session.scalar(
        select(Delivery).where(Delivery.id == delivery_id).with_for_update()
    )


def add_attempt(session: AsyncSession, attempt: WebhookAttempt) -> None:
    session.add(attempt)


async def mark_success(session: AsyncSession, subscription_id: uuid.UUID, *, now: datetime) -> None:
    """The endpoint works: no longer failing, its breaker closed. Written only when that
    changes something (or once a minute for ``last_success_at``), so busy endpoints do not
    queue on their row."""
    await session.execute(
        update(Sub)
        .where(
            Sub.id == subscription_id,
            or_(
                Sub.failing_since.is_not(None),
                Sub.consecutive_failures > 0,
                Sub.paused_until.is_not(None),
                Sub.last_success_at.is_(None),
                Sub.last_success_at < now - timedelta(minutes=1),
            ),
        )
        .values(failing_since=None, consecutive_failures=0, paused_until=None, last_success_at=now)
        .execution_options(synchronize_session=False)
    )


async def mark_failing(
    session: AsyncSession, subscription_id: uuid.UUID, *, now: datetime
) -> tuple[datetime, int] | None:
    """An attempt failed: the endpoint is failing since its first failure after the last
    success. Returns that moment and the failures in a row (None if the subscription is
    gone)."""
    row = (
        await session.execute(
            update(Sub)
            .where(Sub.id == subscription_id)
            .values(
                failing_since=func.coalesce(Sub.failing_since, now),
                consecutive_failures=Sub.consecutive_failures + 1,
            )
            .returning(Sub.failing_since, Sub.consecutive_failures)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


async def pause(session: AsyncSession, subscription_id: uuid.UUID, *, until: datetime) -> None:
    """The endpoint's breaker is open: its deliveries wait until ``until``."""
    await session.execute(
        update(Sub)
        .where(Sub.id == subscription_id)
        .values(paused_until=until)
        .execution_options(synchronize_session=False)
    )


async def take_probe(
    session: AsyncSession, subscription_id: uuid.UUID, *, now: datetime, lease: timedelta
) -> datetime | None:
    """For an endpoint whose breaker is open: take the one attempt that may try it once its
    pause is over (None; the pause is extended by ``lease`` meanwhile), or until when to wait
    (its pause, or that attempt's lease). A second job waits here for the first's claim to
    commit, and then sees its lease."""
    taken = await session.scalar(
        update(Sub)
        .where(Sub.id == subscription_id, Sub.paused_until <= now)
        .values(paused_until=now + lease)
        .returning(Sub.id)
        .execution_options(synchronize_session=False)
    )
    if taken is not None:
        return None
    # Not taken: paused still, or closed meanwhile by a success (None: go ahead).
    until: datetime | None = await session.scalar(
        select(Sub.paused_until).where(Sub.id == subscription_id)
    )
    return until if until is not None and until > now else None


# A deliver job waiting to run (due already) or running: the sweep leaves its delivery alone.
# procrastinate's table, read here only: a queue that has fallen behind holds jobs for
# deliveries already overdue, and waking them again each minute would only add to it.
_NO_JOB_WAITING = text(
    "NOT EXISTS (SELECT FROM procrastinate_jobs j WHERE j.task_name = :deliver_task "
    "AND j.args->>'delivery_id' = webhook_deliveries.id::text "
    "AND (j.status = 'doing' OR (j.status = 'todo' AND coalesce(j.scheduled_at, now()) <= now())))"
).bindparams(deliver_task=DELIVER_TASK)


async def overdue(session: AsyncSession, *, before: datetime, limit: int) -> list[uuid.UUID]:
    """Pending deliveries whose attempt was due before ``before`` and that no job is waiting
    for or working on (their job was lost, or their worker vanished mid-attempt), oldest
    first."""
    query = (
        select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.PENDING.value,
            Delivery.next_attempt_at < before,
            _NO_JOB_WAITING,
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


def due(
    subscription_id: uuid.UUID, *, now: datetime, after: uuid.UUID | None, limit: int
) -> Select[uuid.UUID]:
    """A subscription's pending deliveries due by ``now`` in id order, after ``after``: on
    ``ix_webhook_deliveries_pending``."""
    query = select(Delivery.id).where(
        Delivery.subscription_id == subscription_id,
        Delivery.status == DeliveryStatus.PENDING.value,
        Delivery.next_attempt_at <= now,
    )
    if after is not None:
        query = query.where(Delivery.id > after)
    return query.order_by(Delivery.id).limit(limit)


async def due_of(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    *,
    now: datetime,
    after: uuid.UUID | None,
    limit: int,
) -> list[uuid.UUID]:
    """A subscription's pending deliveries due by ``now``, a chunk at a time in id order."""
    query = due(subscription_id, now=now, after=after, limit=limit)
    return list((await session.scalars(query)).all())
