"""The operations domain's queue jobs: the periodic integrity checks (audit chain, ledger).

The worker schedules ``integrity.check`` on ``integrity_check_cron`` (``worker.queue_app``);
its lock keeps two runs from overlapping on a large audit trail, and its queueing lock keeps at
most one waiting behind a slow run.
"""

from __future__ import annotations

import procrastinate
from procrastinate.job_context import JobContext

from pd_prime_demo.core.queue import STANDARD
from pd_prime_demo.core.runtime import runtime_of
from pd_prime_demo.operations import integrity

blueprint = procrastinate.Blueprint()

INTEGRITY_TASK = "integrity.check"


@blueprint.task(
    name=INTEGRITY_TASK,
    pass_context=True,
    retry=STANDARD,
    queue="sweeps",
    lock=INTEGRITY_TASK,
    queueing_lock=INTEGRITY_TASK,
)
async def integrity_check(context: JobContext, timestamp: int) -> None:
    runtime = runtime_of(context)
    await integrity.run_checks(runtime.db, runtime.settings)
