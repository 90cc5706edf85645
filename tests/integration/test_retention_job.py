"""The retention schedule through the worker: the task is on the periodic schedule at
``privacy_retention_cron``, and deferred to a real worker it runs the schedule to the end and
records the run (committed for real: the job runs in its own connection)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.privacy.jobs import RETENTION_TASK
from pd_prime_demo.worker import queue_app, run_worker

TASK = f"privacy:{RETENTION_TASK}"


async def _scalar(runtime: Runtime, sql: str) -> Any:
    async with runtime.db.sessionmaker() as session:
        return await session.scalar(text(sql))


async def test_the_worker_runs_the_retention_schedule(committed_runtime: Runtime) -> None:
    runtime = committed_runtime
    app = queue_app(runtime)
    scheduled = [p for p in app.periodic_registry.periodic_tasks.values() if p.task.name == TASK]
    assert [p.cron for p in scheduled] == [runtime.settings.privacy_retention_cron]
    await runtime.queue.ready()
    await app.configure_task(TASK).defer_async(timestamp=0)
    await run_worker(runtime, wait=False, install_signal_handlers=False)

    # The worker's periodic deferrer may add the scheduled run too: each one ran to the end,
    # one after the other (the task's lock).
    statuses = await _scalar(
        runtime,
        "SELECT array_agg(DISTINCT status::text) FROM procrastinate_jobs"
        f" WHERE task_name = '{TASK}'",
    )
    assert statuses == ["succeeded"]
    runs = await _scalar(runtime, "SELECT count(*) FROM privacy_retention_runs")
    assert runs >= 1
    assert (
        await _scalar(
            runtime, "SELECT count(*) FROM privacy_retention_runs WHERE finished_at IS NULL"
        )
        == 0
    )
    assert (
        await _scalar(
            runtime, "SELECT count(*) FROM audit_log WHERE action = 'privacy.retention_finished'"
        )
        == runs
    )
