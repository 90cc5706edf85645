"""The audit domain's queue jobs and their periodic schedule (added by ``worker.queue_app``).

``checkpoint`` signs the chain's head every ``audit_checkpoint_cron``. Its procrastinate lock
keeps two runs from overlapping and its queueing lock keeps at most one waiting; inside, the
advisory lock of ``anchoring.write_checkpoint`` serialises it with ``pd-prime audit
checkpoint`` run by hand (two writers would claim one sequence number).
"""

from __future__ import annotations

import procrastinate
import structlog
from procrastinate.job_context import JobContext

from pd_prime_demo.audit.anchoring import write_checkpoint
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.queue import STANDARD
from pd_prime_demo.core.runtime import runtime_of

log = structlog.get_logger("pd_prime_demo.audit.jobs")

blueprint = procrastinate.Blueprint()

CHECKPOINT_TASK = "checkpoint"


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


def schedule(app: procrastinate.App, settings: Settings) -> None:
    """Put this domain's periodic tasks on app's schedule (its tasks are added already,
    under the ``audit:`` namespace)."""
    app.periodic(cron=settings.audit_checkpoint_cron, periodic_id=f"audit:{CHECKPOINT_TASK}")(
        app.tasks[f"audit:{CHECKPOINT_TASK}"]
    )
