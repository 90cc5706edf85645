"""The relay: committed outbox events become published events and jobs.

One relay transaction at a time (an advisory lock; any number of workers may run a relay)
takes the oldest unpublished events, numbers them after the last published ``position``, stamps
``published_at``, defers a job for every consumer whose route matches each event's type, and
announces the new head on the ``pd_prime_events`` channel for live updates. Because relay
transactions run one after another and see only committed events, positions follow commit
order with no gaps: a reader that has seen up to position P has seen every event published
before it, and never sees a change that rolled back (its event never committed).

The jobs are deferred before the numbering commits. If that commit fails, the same events are
published again by the next round and their jobs deferred twice: delivery is at least once,
and every consumer is idempotent on the event (a page is drawn once, a webhook delivery made
once per subscription and event).

Each job carries the ``traceparent`` of the transaction that wrote its event (when it had
one): the worker's span for the job continues that trace (``core.job_telemetry``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import procrastinate
import structlog
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import Link
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import locks
from pd_prime_demo.core.database import Database
from pd_prime_demo.core.job_telemetry import TRACEPARENT
from pd_prime_demo.core.tracing import configure_tracing, context_from_traceparent, tracer

log = structlog.get_logger(__name__)

EVENTS_CHANNEL = "pd_prime_events"  # payload: the newest published position
OUTBOX_CHANNEL = "pd_prime_outbox"  # notified by a trigger when outbox rows commit
BATCH = 500
MAX_LINKS = 128  # the SDK's default limit of links on a span


@dataclass(frozen=True, slots=True)
class Route:
    """Events whose type matches ``pattern`` (``fnmatch``: ``policy.*``) go to ``task``."""

    pattern: str
    task: str


@dataclass(frozen=True, slots=True)
class Published:
    id: int
    position: int
    topic: str
    aggregate_type: str
    aggregate_id: str
    customer_id: uuid.UUID | None
    traceparent: str | None


_PUBLISH = text(
    """
    WITH head AS (
        SELECT coalesce(max(position), 0) AS position FROM outbox_events
    ), batch AS (
        SELECT id, row_number() OVER (ORDER BY id) AS n
        FROM (
            SELECT id FROM outbox_events WHERE published_at IS NULL ORDER BY id LIMIT :limit
        ) oldest
    )
    UPDATE outbox_events e
    SET position = head.position + batch.n, published_at = now()
    FROM batch, head
    WHERE e.id = batch.id
    RETURNING e.id, e.position, e.topic, e.aggregate_type, e.aggregate_id, e.customer_id,
        e.traceparent
    """
)
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


async def publish_batch(
    session: AsyncSession,
    queue: procrastinate.App,
    routes: Sequence[Route],
    *,
    limit: int = BATCH,
) -> list[Published]:
    """Publish the oldest unpublished events (up to ``limit``) in ``session``'s transaction and
    defer their jobs; the caller commits. Returns them in position order."""
    await locks.lock(session, "events.relay")
    rows = (await session.execute(_PUBLISH, {"limit": limit})).all()
    published = sorted((Published(*row) for row in rows), key=lambda p: p.position)
    if not published:
        return published
    by_task: dict[str, list[dict[str, object]]] = defaultdict(list)
    for event in published:
        args: dict[str, object] = {
            "event_id": event.id,
            "topic": event.topic,
            "aggregate_id": event.aggregate_id,
        }
        if event.traceparent is not None:
            args[TRACEPARENT] = event.traceparent
        for route in routes:
            if fnmatch.fnmatchcase(event.topic, route.pattern):
                by_task[route.task].append(args)
    for task, jobs in by_task.items():
        await queue.configure_task(task, allow_unknown=True).batch_defer_async(*jobs)  # type: ignore[arg-type]
    await session.execute(
        _NOTIFY, {"channel": EVENTS_CHANNEL, "payload": str(published[-1].position)}
    )
    return published


async def relay_pending(db: Database, queue: procrastinate.App, routes: Sequence[Route]) -> int:
    """Publish every event committed so far, a batch per transaction; how many."""
    total = 0
    while True:
        started = time.time_ns()
        # The relay polls every few seconds: its statements are not traced (a trace each, of
        # nothing, every few seconds per worker); a round that published gets one span,
        # linked to the traces that wrote its events.
        with suppress_instrumentation():
            async with db.unit_of_work() as session:
                batch = await publish_batch(session, queue, routes)
        if batch:
            _record_round(batch, started)
        total += len(batch)
        if len(batch) < BATCH:
            return total


def _record_round(batch: Sequence[Published], started_ns: int) -> None:
    links = [
        Link(parent.get_span_context())
        for event in batch[:MAX_LINKS]
        if (parent := trace.get_current_span(context_from_traceparent(event.traceparent)))
        .get_span_context()
        .is_valid
    ]
    tracer().start_span(
        "events.relay",
        start_time=started_ns,
        links=links,
        attributes={"pd_prime.events": len(batch), "pd_prime.position": batch[-1].position},
    ).end()


async def run_relay(
    db: Database,
    queue: procrastinate.App,
    routes: Sequence[Route],
    *,
    dsn: str,
    poll_seconds: float = 5.0,
) -> None:
    """Relay until cancelled: woken by the outbox trigger's notification, and every
    ``poll_seconds`` in case a notification was missed (a lost connection, say)."""
    configure_tracing()
    wake = asyncio.Event()
    listener: asyncpg.Connection | None = None

    def on_notify(*_: object) -> None:
        wake.set()

    try:
        while True:
            if listener is None or listener.is_closed():
                try:
                    listener = await asyncpg.connect(dsn)
                    await listener.add_listener(OUTBOX_CHANNEL, on_notify)
                except (OSError, asyncpg.PostgresError):
                    log.warning("events.relay_listen_failed", exc_info=True)
                    listener = None
            wake.clear()
            try:
                count = await relay_pending(db, queue, routes)
                if count:
                    log.info("events.relayed", count=count)
            except Exception:  # the database may be restarting: try again next round
                log.exception("events.relay_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=poll_seconds)
    finally:
        if listener is not None and not listener.is_closed():
            await listener.close()
