"""The privacy domain's queue jobs and their periodic schedule (added by ``worker.queue_app``).

``retention`` runs the retention schedule every ``privacy_retention_cron``, in bounded chunks
(``privacy.service.retention``). Its procrastinate lock keeps two runs from overlapping and its
queueing lock keeps at most one waiting; inside, an advisory lock serialises it with
``pd-prime privacy retention run`` started by hand. A run killed midway is resumed by the next.
"""

from __future__ import annotations

import procrastinate
import structlog
from procrastinate.job_context import JobContext

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.queue import STANDARD
from pd_prime_demo.core.runtime import runtime_of
from pd_prime_demo.privacy.service import retention, unverified

log = structlog.get_logger("pd_prime_demo.privacy.jobs")

blueprint = procrastinate.Blueprint()

RETENTION_TASK = "retention"
UNVERIFIED_TASK = "close_unverified"
UNVERIFIED_CRON = "50 2 * * *"


@blueprint.task(
    name=RETENTION_TASK,
    pass_context=True,
    retry=STANDARD,
    queue="sweeps",
    lock=f"privacy:{RETENTION_TASK}",
    queueing_lock=f"privacy:{RETENTION_TASK}",
)
async def run_retention(context: JobContext, timestamp: int) -> None:
    runtime = runtime_of(context)
    finished = await retention.run(
        runtime.db, runtime.settings, runtime.cipher, actor=Actor.system("retention")
    )
    log.info("privacy.retention_run", run_id=str(finished.id), chunks=finished.chunks)


@blueprint.task(
    name=UNVERIFIED_TASK,
    pass_context=True,
    retry=STANDARD,
    queue="sweeps",
    lock=f"privacy:{UNVERIFIED_TASK}",
    queueing_lock=f"privacy:{UNVERIFIED_TASK}",
)
async def close_unverified(context: JobContext, timestamp: int) -> None:
    runtime = runtime_of(context)
    closed, batch = 0, 500
    while True:  # bounded transactions: a crash loses at most one batch, redone next run
        async with runtime.db.unit_of_work() as session:
            done = await unverified.close_unverified(session, now=clock.now(), limit=batch)
        closed += done
        if done < batch:
            break
    log.info("privacy.unverified_closed", closed=closed)


def schedule(app: procrastinate.App, settings: Settings) -> None:
    """Put this domain's periodic tasks on app's schedule (its tasks are added already,
    under the ``privacy:`` namespace)."""
    app.periodic(cron=settings.privacy_retention_cron, periodic_id=f"privacy:{RETENTION_TASK}")(
        app.tasks[f"privacy:{RETENTION_TASK}"]
    )
    app.periodic(cron=UNVERIFIED_CRON, periodic_id=f"privacy:{UNVERIFIED_TASK}")(
        app.tasks[f"privacy:{UNVERIFIED_TASK}"]
    )
