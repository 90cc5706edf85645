"""The audit domain's queue jobs and their periodic schedule (added by ``worker.queue_app``).

``checkpoint`` signs the chain's head every ``audit_checkpoint_cron``; ``partitions`` creates
the coming months' partitions of audit_log and ``retention`` drops the expired ones, daily.
The checkpoint's procrastinate lock keeps two runs from overlapping and its queueing lock
keeps at most one waiting; inside, the advisory lock of ``anchoring.write_checkpoint``
serialises it with ``pd-prime audit checkpoint`` run by hand (two writers would claim one
sequence number).
"""

from __future__ import annotations

import procrastinate
import structlog
from procrastinate.job_context import JobContext

from pd_prime_demo.audit.anchoring import write_checkpoint
from pd_prime_demo.audit.partitions import ensure_partitions
from pd_prime_demo.audit.retention import apply_retention
from pd_prime_demo.core import clock
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.queue import STANDARD
from pd_prime_demo.core.runtime import runtime_of

log = structlog.get_logger("pd_prime_demo.audit.jobs")

blueprint = procrastinate.Blueprint()

CHECKPOINT_TASK = "checkpoint"
PARTITIONS_TASK = "partitions"
RETENTION_TASK = "retention"


@blueprint.task(
    name=CHECKPOINT_TASK,
    pass_context=True,
    retry=STANDARD,
    queue="sweeps",
    lock=f"audit:{CHECKPOINT_TASK}",
    queueing_lock=f"audit:{CHECKPOINT_TASK}",
)
async def checkpoint(context: JobContext, timestamp: int) -> None:
    runtime = runtime_of(context)
    async with runtime.db.unit_of_work() as session:
        written = await write_checkpoint(session, runtime.settings)
    if written is None:
        log.info("audit.checkpoint_skipped", reason="nothing appended since the last one")


@blueprint.task(
    name=PARTITIONS_TASK,
    pass_context=True,
    retry=STANDARD,
    queue="sweeps",
    lock=f"audit:{PARTITIONS_TASK}",
    queueing_lock=f"audit:{PARTITIONS_TASK}",
)
async def partitions(context: JobContext, timestamp: int) -> None:
    runtime = runtime_of(context)
    async with runtime.db.unit_of_work() as session:
        created = await ensure_partitions(
            session,
            today=clock.today(),
            months_ahead=runtime.settings.audit_partition_months_ahead,
        )
    if created:
        log.info("audit.partitions_created", partitions=created)


@blueprint.task(
    name=RETENTION_TASK,
    pass_context=True,
    retry=STANDARD,
    queue="sweeps",
    # One lock for both: retention drops partitions while maintenance creates them.
    lock=f"audit:{PARTITIONS_TASK}",
    queueing_lock=f"audit:{RETENTION_TASK}",
)
async def retention(context: JobContext, timestamp: int) -> None:
    runtime = runtime_of(context)
    if runtime.held_resources is None:
        # Without the legal holds nothing may be purged (the worker's wiring provides them).
        log.error("audit.retention_skipped", reason="no legal-hold source wired")
        return
    async with runtime.db.unit_of_work() as session:
        await apply_retention(session, runtime.settings, held=runtime.held_resources)


# Daily, at quiet hours: partitions are created months ahead, so a missed day is harmless.
PARTITIONS_CRON = "20 2 * * *"
RETENTION_CRON = "40 2 * * *"


def schedule(app: procrastinate.App, settings: Settings) -> None:
    """Put this domain's periodic tasks on app's schedule (its tasks are added already,
    under the ``audit:`` namespace)."""
    for name, cron in (
        (CHECKPOINT_TASK, settings.audit_checkpoint_cron),
        (PARTITIONS_TASK, PARTITIONS_CRON),
        (RETENTION_TASK, RETENTION_CRON),
    ):
        app.periodic(cron=cron, periodic_id=f"audit:{name}")(app.tasks[f"audit:{name}"])
