"""Control runs: recorded append-only and hash-chained, whatever the control does.

The controls here are real checks on the database (a table has rows), so they pass and fail
with what the database holds; H4's catalogue is tested with its own controls.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy.exc
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from pd_prime_demo.audit import service as audit
from pd_prime_demo.audit.models import AuditEntry
from pd_prime_demo.compliance import service
from pd_prime_demo.compliance.control import (
    Control,
    ControlContext,
    Evidence,
    Frequency,
    Outcome,
)
from pd_prime_demo.compliance.models import ControlEvidence, ControlRun
from pd_prime_demo.compliance.rules import GENESIS_HASH, period_of
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.telemetry import CONTROL_FAILED

NOW = datetime(2026, 11, 30, 6, 5, tzinfo=UTC)


def table_has_rows(table: str, frequency: Frequency = Frequency.DAILY) -> Control:
    """A control that passes when ``table`` has rows, with the count as evidence."""

    async def test(context: ControlContext) -> Outcome:
        count = int(await context.session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)
        period = period_of(frequency, context.now)
        body = json.dumps({"table": table, "rows": count}).encode()
        return Outcome(
            passed=count > 0,
            reason=f"{table} holds {count} rows",
            covers_from=period.start,
            covers_to=context.now,
            evidence=(Evidence("count.json", "application/json", body),),
            figures={"rows": count},
        )

    return Control(
        id=f"TEST-{table}-{frequency.value}",
        criteria=("CC4.1",),
        title=f"{table} has rows",
        description=f"Passes when {table} is not empty.",
        frequency=frequency,
        test=test,
    )


def raising(error: type[Exception], *, after_sql: str | None = None) -> Control:
    async def test(context: ControlContext) -> Outcome:
        if after_sql is not None:
            await context.session.execute(text(after_sql))
        raise error("a message that must not be recorded: jane@example.com")

    return Control(
        id=f"TEST-raises-{error.__name__}",
        criteria=("CC7.2",),
        title="raises",
        description="Its test raises.",
        frequency=Frequency.DAILY,
        test=test,
    )


def sleeping(seconds: float) -> Control:
    async def test(context: ControlContext) -> Outcome:
        await asyncio.sleep(seconds)
        raise AssertionError("unreachable: the runner's time bound stops it first")

    return Control("TEST-slow", ("CC7.2",), "slow", "Overruns.", Frequency.DAILY, test)


async def _runs(session: AsyncSession) -> list[ControlRun]:
    return list(
        (
            await session.scalars(
                select(ControlRun).order_by(ControlRun.id).execution_options(populate_existing=True)
            )
        ).all()
    )


async def test_runs_are_chained_with_their_evidence_and_audited(
    session: AsyncSession, settings: Settings
) -> None:
    passing, failing = table_has_rows("alembic_version"), table_has_rows("security_reviews")
    first = await service.run_control(session, passing, settings=settings, now=NOW)
    second = await service.run_control(session, failing, settings=settings, now=NOW)

    assert first.passed
    assert first.prev_hash == GENESIS_HASH
    assert not second.passed
    assert second.reason == "security_reviews holds 0 rows"
    assert second.prev_hash == first.hash
    assert first.started_at == NOW
    assert first.finished_at >= NOW
    assert first.covers_from == period_of(Frequency.DAILY, NOW).start
    (stored,) = (
        await session.scalars(select(ControlEvidence).where(ControlEvidence.run_id == first.id))
    ).all()
    assert first.evidence == [
        {
            "name": "count.json",
            "media_type": "application/json",
            "size": stored.size,
            "sha256": stored.sha256,
        }
    ]
    assert json.loads(stored.content)["rows"] == first.figures["rows"] > 0

    report = await service.verify_runs(session)
    assert (report.ok, report.runs_checked, report.head_id) == (True, 2, second.id)

    await audit.write_pending(session)
    audited = (
        await session.scalars(
            select(AuditEntry.resource_id).where(AuditEntry.action == "compliance.control_run")
        )
    ).all()
    assert set(audited) == {str(first.id), str(second.id)}


async def test_a_failing_control_logs_an_error_and_sets_its_gauge(
    session: AsyncSession, settings: Settings
) -> None:
    control = table_has_rows("security_reviews")
    with capture_logs() as logs:
        run = await service.run_control(session, control, settings=settings, now=NOW)
    errors = [line for line in logs if line["log_level"] == "error"]
    assert errors == [
        {
            "event": "compliance.control_failed",
            "log_level": "error",
            "control_id": control.id,
            "run_id": run.id,
            "reason": "security_reviews holds 0 rows",
        }
    ]
    service.publish([run])
    assert CONTROL_FAILED.labels(control=control.id)._value.get() == 1
    passing = await service.run_control(
        session, table_has_rows("alembic_version"), settings=settings, now=NOW
    )
    service.publish([passing])
    assert CONTROL_FAILED.labels(control=passing.control_id)._value.get() == 0


@pytest.mark.parametrize(
    ("control", "reason"),
    [
        (raising(RuntimeError), "the control's test raised RuntimeError"),
        # A statement that fails aborts the transaction: the savepoint is what keeps it usable.
        (
            raising(ValueError, after_sql="SELECT 1 FROM no_such_table"),
            "the control's test raised ProgrammingError",
        ),
    ],
)
async def test_a_control_that_raises_is_recorded_as_failed(
    session: AsyncSession, settings: Settings, control: Control, reason: str
) -> None:
    run = await service.run_control(session, control, settings=settings, now=NOW)
    assert (run.passed, run.reason) == (False, reason)
    assert "jane@example.com" not in run.reason  # the message is never recorded
    assert run.evidence == []
    period = period_of(Frequency.DAILY, NOW)
    assert (run.covers_from, run.covers_to) == (period.start, NOW)
    # The session still works and the chain goes on after it.
    after = await service.run_control(
        session, table_has_rows("alembic_version"), settings=settings, now=NOW
    )
    assert after.passed
    assert after.prev_hash == run.hash


async def test_a_control_that_overruns_its_time_is_failed(
    session: AsyncSession, settings: Settings
) -> None:
    bounded = settings.model_copy(update={"compliance_control_timeout_seconds": 1})
    run = await service.run_control(session, sleeping(30), settings=bounded, now=NOW)
    assert (run.passed, run.reason) == (False, "the control's test raised TimeoutError")
    assert (await service.verify_runs(session)).ok


async def test_an_outcome_with_unsafe_evidence_names_is_failed(
    session: AsyncSession, settings: Settings
) -> None:
    async def test(context: ControlContext) -> Outcome:
        return Outcome(
            True, "fine", NOW, NOW, evidence=(Evidence("../../etc/passwd", "text/plain", b"x"),)
        )

    control = Control("TEST-names", ("CC4.1",), "names", "Bad names.", Frequency.DAILY, test)
    run = await service.run_control(session, control, settings=settings, now=NOW)
    assert not run.passed
    assert run.reason == "the outcome's evidence names are not distinct file names"


async def test_runs_and_evidence_refuse_update_delete_and_truncate(
    session: AsyncSession, settings: Settings
) -> None:
    run = await service.run_control(
        session, table_has_rows("alembic_version"), settings=settings, now=NOW
    )
    for statement in (
        f"UPDATE control_runs SET passed = NOT passed WHERE id = {run.id}",
        f"DELETE FROM control_runs WHERE id = {run.id}",
        "TRUNCATE control_runs CASCADE",
        f"UPDATE control_evidence SET media_type = 'text/plain' WHERE run_id = {run.id}",
        f"DELETE FROM control_evidence WHERE run_id = {run.id}",
        "TRUNCATE control_evidence",
    ):
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="append-only"):
            async with session.begin_nested():
                await session.execute(text(statement))
    assert [r.id for r in await _runs(session)] == [run.id]


async def test_evidence_must_match_its_hash(session: AsyncSession, settings: Settings) -> None:
    run = await service.run_control(
        session, table_has_rows("alembic_version"), settings=settings, now=NOW
    )
    with pytest.raises(sqlalchemy.exc.IntegrityError, match="sha256_of_content"):
        async with session.begin_nested():
            await session.execute(
                text(
                    "INSERT INTO control_evidence (run_id, name, media_type, size, sha256, content)"
                    " VALUES (:run, 'forged.txt', 'text/plain', 1, repeat('a', 64), 'x')"
                ),
                {"run": run.id},
            )


async def _bypassing_triggers(session: AsyncSession, sql: str) -> None:
    # As the database superuser: replica mode skips ordinary triggers (the append-only guard).
    await session.execute(text("SET LOCAL session_replication_role = replica"))
    await session.execute(text(sql))
    await session.execute(text("SET LOCAL session_replication_role = origin"))


async def test_tampering_is_detected_by_verification(
    session: AsyncSession, settings: Settings
) -> None:
    runs = [
        await service.run_control(
            session,
            table_has_rows("alembic_version"),
            settings=settings,
            now=NOW + timedelta(days=i),
        )
        for i in range(4)
    ]
    assert (await service.verify_runs(session)).ok

    await _bypassing_triggers(
        session, f"UPDATE control_runs SET passed = false WHERE id = {runs[1].id}"
    )
    report = await service.verify_runs(session)
    assert (report.ok, report.first_bad_id, report.reason) == (
        False,
        runs[1].id,
        "content does not match its hash",
    )
    assert report.runs_checked == 1

    await _bypassing_triggers(
        session, f"UPDATE control_runs SET passed = true WHERE id = {runs[1].id}"
    )
    assert (await service.verify_runs(session)).ok
    await _bypassing_triggers(session, f"DELETE FROM control_evidence WHERE run_id = {runs[2].id}")
    report = await service.verify_runs(session)
    assert (report.first_bad_id, report.reason) == (
        runs[2].id,
        "stored evidence does not match the run's manifest",
    )

    await _bypassing_triggers(session, f"DELETE FROM control_runs WHERE id = {runs[2].id}")
    report = await service.verify_runs(session)
    assert (report.first_bad_id, report.reason) == (
        runs[3].id,
        "previous-hash link broken (a run was removed or reordered)",
    )
    assert await session.scalar(select(func.count()).select_from(ControlRun)) == 3


async def test_run_due_runs_each_control_once_per_period(
    session: AsyncSession, settings: Settings
) -> None:
    daily = table_has_rows("alembic_version", Frequency.DAILY)
    weekly = table_has_rows("alembic_version", Frequency.WEEKLY)
    monthly = table_has_rows("alembic_version", Frequency.MONTHLY)
    controls = (daily, weekly, monthly)
    monday = datetime(2026, 11, 30, 1, tzinfo=UTC)  # a Monday, and the last day of November

    async def due_at(moment: datetime) -> list[str]:
        runs = await service.run_due(session, settings, now=moment, controls=controls)
        return [run.control_id for run in runs]

    assert await due_at(monday) == [daily.id, weekly.id, monthly.id]
    assert await due_at(monday + timedelta(hours=5)) == []
    assert await due_at(monday + timedelta(days=1)) == [daily.id, monthly.id]  # December
    assert await due_at(monday + timedelta(days=2)) == [daily.id]
    assert await due_at(monday + timedelta(days=7)) == [daily.id, weekly.id]


async def test_deleting_the_newest_failing_run_is_detected_by_its_audit_entry(
    session: AsyncSession, settings: Settings
) -> None:
    passing = await service.run_control(
        session, table_has_rows("alembic_version"), settings=settings, now=NOW
    )
    failing = await service.run_control(
        session, table_has_rows("security_reviews"), settings=settings, now=NOW
    )
    assert not failing.passed
    await audit.write_pending(session)
    [entry] = (
        await session.scalars(
            select(AuditEntry).where(
                AuditEntry.resource_type == "control_run",
                AuditEntry.resource_id == str(failing.id),
            )
        )
    ).all()
    assert entry.changes["hash"] == failing.hash
    assert (await service.verify_runs(session)).ok

    # As superuser: the newest run and its evidence go, leaving a chain that links perfectly.
    await _bypassing_triggers(session, f"DELETE FROM control_evidence WHERE run_id = {failing.id}")
    await _bypassing_triggers(session, f"DELETE FROM control_runs WHERE id = {failing.id}")
    report = await service.verify_runs(session)
    assert (report.ok, report.first_bad_id) == (False, failing.id)
    assert report.reason == "run missing: its audit entry remains (a run was removed)"
    assert report.head_id == passing.id


async def test_a_rewritten_run_and_a_run_without_its_entry_are_detected(
    session: AsyncSession, settings: Settings
) -> None:
    run = await service.run_control(
        session, table_has_rows("alembic_version"), settings=settings, now=NOW
    )
    run_id, run_hash = run.id, run.hash  # verification reloads the row
    await audit.write_pending(session)
    # Rewritten with another hash: the audit entry disagrees.
    await _bypassing_triggers(
        session, f"UPDATE control_runs SET hash = repeat('b', 64) WHERE id = {run_id}"
    )
    report = await service.verify_runs(session)
    assert (report.ok, report.first_bad_id) == (False, run_id)
    await _bypassing_triggers(
        session, f"UPDATE control_runs SET hash = '{run_hash}' WHERE id = {run_id}"
    )
    await _bypassing_triggers(
        session,
        f"DELETE FROM audit_log WHERE resource_type = 'control_run' AND resource_id = '{run_id}'",
    )
    report = await service.verify_runs(session)
    assert (report.ok, report.first_bad_id) == (False, 0), report.reason
    assert report.reason == "1 run(s) have no audit entry (recorded outside the runner)"
