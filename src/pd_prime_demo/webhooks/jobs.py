"""The webhook jobs: every published event is fanned out (route ``*``), each delivery is
attempted by a job of its own, and a sweep wakes deliveries whose job was lost.

A job is deferred only after the transaction whose rows it acts on has committed, so it never
looks for a delivery that is not there yet; if a process dies between the commit and the
defer, the sweep finds the delivery overdue a couple of minutes later. A duplicate job does
nothing: an attempt is claimed on the delivery's row (``service.deliver``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

import procrastinate
import structlog
from procrastinate.job_context import JobContext

from pd_prime_demo.core import clock
from pd_prime_demo.core.job_telemetry import TRACEPARENT
from pd_prime_demo.core.queue import STANDARD
from pd_prime_demo.core.runtime import runtime_of
from pd_prime_demo.core.tracing import current_traceparent
from pd_prime_demo.webhooks import service
from pd_prime_demo.webhooks.rules import DELIVER_TASK

log = structlog.get_logger(__name__)

blueprint = procrastinate.Blueprint()

DELIVER = DELIVER_TASK
CHUNK = 500
# A delivery due longer ago than this has no job coming (jobs are deferred for their time).
OVERDUE_AFTER = timedelta(minutes=2)


async def defer_deliveries(
    app: procrastinate.App, delivery_ids: Sequence[uuid.UUID], *, in_seconds: int = 0
) -> None:
    """A job per delivery, due in ``in_seconds``, in the trace of the job deferring it (the
    event's fan-out, the attempt before, the sweep)."""
    task = app.configure_task(
        DELIVER, allow_unknown=True, queue="webhooks", schedule_in={"seconds": in_seconds}
    )
    traced = {} if (parent := current_traceparent()) is None else {TRACEPARENT: parent}
    for start in range(0, len(delivery_ids), CHUNK):
        chunk = delivery_ids[start : start + CHUNK]
        await task.batch_defer_async(*({"delivery_id": str(d), **traced} for d in chunk))  # type: ignore[arg-type]


@blueprint.task(name="fan_out", retry=STANDARD, pass_context=True, queue="webhooks")
async def fan_out(context: JobContext, *, event_id: int, topic: str, aggregate_id: str) -> None:
    """Any published event -> its deliveries (idempotent: made once per subscription), or,
    for a replay's event, the replayed deliveries woken."""
    runtime = runtime_of(context)
    if topic == service.REPLAY_TOPIC:
        after: uuid.UUID | None = None
        while True:
            async with runtime.db.unit_of_work() as session:
                due = await service.replayed(
                    session, event_id, now=clock.now(), after=after, limit=CHUNK
                )
            await defer_deliveries(context.app, due)
            if len(due) < CHUNK:
                return
            after = due[-1]
    async with runtime.db.unit_of_work() as session:
        made = await service.fan_out(session, event_id, now=clock.now())
    await defer_deliveries(context.app, made)
    if made:
        log.info("webhooks.fanned_out", event_id=event_id, topic=topic, deliveries=len(made))


@blueprint.task(name="deliver", retry=STANDARD, pass_context=True, queue="webhooks")
async def deliver(context: JobContext, *, delivery_id: str) -> None:
    """One attempt; on failure the next one is deferred for its time in the schedule."""
    runtime = runtime_of(context)
    retry_in = await service.attempt(runtime, uuid.UUID(delivery_id))
    if retry_in is not None:
        await defer_deliveries(context.app, [uuid.UUID(delivery_id)], in_seconds=retry_in)


@blueprint.periodic(cron="* * * * *", periodic_id="webhooks.overdue")
@blueprint.task(
    name="wake_overdue",
    pass_context=True,
    queue="webhooks",
    lock="webhooks.overdue",
    queueing_lock="webhooks.overdue",
)
async def wake_overdue(context: JobContext, timestamp: int) -> None:
    """Every minute: defer again the deliveries nobody woke in time, and only those: one
    whose job waits in a queue that has fallen behind is left to it (2,000 at most a run)."""
    runtime = runtime_of(context)
    async with runtime.db.unit_of_work() as session:
        due = await service.overdue(session, before=clock.now() - OVERDUE_AFTER, limit=CHUNK * 4)
    await defer_deliveries(context.app, due)
    if due:
        log.warning("webhooks.overdue_woken", deliveries=len(due), period=timestamp)
