"""The schedule: ``compliance:run_due`` on its cron, each due control once per period in a
transaction of its own, and the failed-control gauge set from the committed runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from pd_prime_demo.compliance import service
from pd_prime_demo.compliance.control import Frequency
from pd_prime_demo.compliance.models import ControlRun
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.telemetry import CONTROL_FAILED
from pd_prime_demo.worker import queue_app
from tests.integration.test_compliance_runs import raising, table_has_rows

MONDAY = datetime(2026, 11, 30, 0, 5, tzinfo=UTC)


async def _committed(runtime: Runtime) -> list[tuple[str, bool]]:
    async with runtime.db.sessionmaker() as session:
        rows = await session.execute(
            select(ControlRun.control_id, ControlRun.passed).order_by(ControlRun.id)
        )
        return [(control_id, passed) for control_id, passed in rows.all()]


async def test_the_schedule_runs_what_is_due_once_each_in_its_own_transaction(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    daily = table_has_rows("alembic_version", Frequency.DAILY)
    weekly = table_has_rows("alembic_version", Frequency.WEEKLY)
    broken = raising(RuntimeError, after_sql="SELECT 1 FROM no_such_table")
    empty = table_has_rows("security_reviews", Frequency.DAILY)
    controls = (daily, broken, weekly, empty)

    async def tick(moment: datetime) -> list[str]:
        runs = await service.run_scheduled(
            runtime.db, runtime.settings, now=moment, controls=controls
        )
        return [run.control_id for run in runs]

    assert await tick(MONDAY) == [daily.id, broken.id, weekly.id, empty.id]
    # Committed, the failures with the others: a broken control loses nobody's result.
    assert await _committed(runtime) == [
        (daily.id, True),
        (broken.id, False),
        (weekly.id, True),
        (empty.id, False),
    ]
    assert CONTROL_FAILED.labels(control=broken.id)._value.get() == 1
    assert CONTROL_FAILED.labels(control=daily.id)._value.get() == 0

    # A restarted worker's gauge starts empty; the next tick sets it from the latest runs.
    CONTROL_FAILED.labels(control=broken.id).set(0)
    assert await tick(MONDAY + timedelta(hours=1)) == []  # the next hourly run: nothing due
    assert CONTROL_FAILED.labels(control=broken.id)._value.get() == 1
    assert await tick(MONDAY + timedelta(days=1)) == [daily.id, broken.id, empty.id]
    async with runtime.db.sessionmaker() as session:
        report = await service.verify_runs(session)
    assert report.ok
    assert report.runs_checked == 7


def test_the_worker_schedules_run_due_on_its_cron(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"compliance_schedule_cron": "7 * * * *"})
    app = queue_app(runtime)
    [periodic] = [
        p
        for p in app.periodic_registry.periodic_tasks.values()
        if p.periodic_id == "compliance:run_due"
    ]
    assert periodic.cron == "7 * * * *"
    assert periodic.task.name == "compliance:run_due"
    assert periodic.task.lock == "compliance:run_due"
