"""The compliance domain's queue jobs and their periodic schedule (``worker.queue_app``).

``run_due`` runs every control that has not run in its current period (its day, ISO week,
month, quarter or year), on ``compliance_schedule_cron``. The task's lock keeps two runs from
overlapping (a control would run twice in its period) and its queueing lock keeps at most one
waiting behind a slow one. Missed hours catch up: a control stays due until it has run.
"""

from __future__ import annotations

import procrastinate
import structlog
from procrastinate.job_context import JobContext

from pd_prime_demo.compliance import service
from pd_prime_demo.core import clock
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.queue import STANDARD
from pd_prime_demo.core.runtime import runtime_of

log = structlog.get_logger("pd_prime_demo.compliance.jobs")

blueprint = procrastinate.Blueprint()

RUN_DUE_TASK = "run_due"


@blueprint.task(
    name=RUN_DUE_TASK,
    pass_context=True,
    retry=STANDARD,
    queue="sweeps",
    lock=f"compliance:{RUN_DUE_TASK}",
    queueing_lock=f"compliance:{RUN_DUE_TASK}",
)
async def run_due(context: JobContext, timestamp: int) -> None:
    runtime = runtime_of(context)
    runs = await service.run_scheduled(
        runtime.db,
        runtime.settings,
        now=clock.now(),
        routes=runtime.routes,
        controls=service.catalogue(),
    )
    log.info(
        "compliance.controls_run",
        runs=len(runs),
        failed=sum(1 for run in runs if not run.passed),
    )


def schedule(app: procrastinate.App, settings: Settings) -> None:
    """Put this domain's periodic tasks on app's schedule (its tasks are added already,
    under the ``compliance:`` namespace)."""
    app.periodic(cron=settings.compliance_schedule_cron, periodic_id=f"compliance:{RUN_DUE_TASK}")(
        app.tasks[f"compliance:{RUN_DUE_TASK}"]
    )
