"""Running controls and recording their runs (AICPA TSC CC4.1: the controls are evaluated on
their schedule, and each evaluation is kept as evidence).

A run is recorded whatever the control does: a test that fails says why; a test that raises,
breaks its transaction or overruns its time is a FAILED run whose reason names the exception
type (never its message, which may quote data). Nothing a control does can stop the others'
runs or lose their results.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pydantic_core import to_jsonable_python
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.compliance import repository
from pd_prime_demo.compliance.control import Control, ControlContext, Evidence, Outcome
from pd_prime_demo.compliance.models import ControlEvidence, ControlRun
from pd_prime_demo.compliance.rules import (
    RunContent,
    evidence_name_ok,
    is_due,
    manifest_of,
    period_of,
    run_hash,
)
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.database import Database
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, not_found
from pd_prime_demo.core.telemetry import CONTROL_FAILED

log = structlog.get_logger(__name__)

SCHEDULER = Actor.system("compliance")
CONTROL_NOT_FOUND = not_found("control", "compliance.control_not_found")


def _checked(control: Control, outcome: Any) -> Outcome | str:
    """The outcome, or why it cannot be recorded as the control gave it."""
    if not isinstance(outcome, Outcome):
        return "the control's test returned no Outcome"
    for moment in (outcome.covers_from, outcome.covers_to):
        if moment.tzinfo is None:
            return "the outcome's period is not timezone-aware"
    if outcome.covers_from > outcome.covers_to:
        return "the outcome's period ends before it starts"
    if not all(isinstance(item, Evidence) for item in outcome.evidence):
        return "the outcome's evidence is not Evidence"
    names = [item.name for item in outcome.evidence]
    if len(set(names)) != len(names) or not all(map(evidence_name_ok, names)):
        return "the outcome's evidence names are not distinct file names"
    return outcome


async def _test(control: Control, context: ControlContext, seconds: float) -> Outcome | str:
    session = context.session
    # The database side of the time bound, a little shorter than the client's: a slow query
    # is cancelled by the server and fails cleanly, rather than being abandoned mid-protocol.
    # set_config(..., true) lasts to the transaction's end, so the previous value is restored.
    previous = await session.scalar(text("SELECT current_setting('statement_timeout')"))
    try:
        async with session.begin_nested():
            await session.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": str(int(seconds * 900))},
            )
            async with asyncio.timeout(seconds):
                outcome = await control.test(context)
            checked = _checked(control, outcome)
            if isinstance(checked, str):
                # Undo whatever it wrote: a run that is not recorded as given changes nothing.
                raise _RejectedError(checked)
            return checked
    except _RejectedError as rejected:
        return str(rejected)
    except Exception as error:
        # A control that raises is a failed control, not a crash of the schedule.
        log.warning("compliance.control_raised", control_id=control.id, error=type(error).__name__)
        return f"the control's test raised {type(error).__name__}"
    finally:
        await session.execute(
            text("SELECT set_config('statement_timeout', :value, true)"), {"value": previous}
        )


class _RejectedError(Exception):
    pass


async def run_control(
    session: AsyncSession,
    control: Control,
    *,
    settings: Settings,
    now: datetime,
    routes: Sequence[Any] = (),
    actor: Actor = SCHEDULER,
) -> ControlRun:
    """Run ``control`` at ``now`` and append its run (and evidence) to the chain, in
    ``session``'s transaction, with an audit entry. The caller commits."""
    started = time.monotonic()
    context = ControlContext(session=session, settings=settings, now=now, routes=tuple(routes))
    verdict = await _test(control, context, float(settings.compliance_control_timeout_seconds))
    finished_at = now + timedelta(seconds=time.monotonic() - started)
    if isinstance(verdict, str):
        period = period_of(control.frequency, now)
        outcome = Outcome(
            passed=False,
            reason=verdict,
            covers_from=period.start,
            covers_to=min(period.end, max(now, period.start)),
        )
    else:
        outcome = verdict
    run = await _append(session, control, outcome, now=now, finished_at=finished_at)
    await audit.record(
        session,
        actor,
        "compliance.control_run",
        "control_run",
        str(run.id),
        # The run's hash in the audit chain, whose signed checkpoints then anchor the run
        # chain: a run deleted or rewritten, even the newest, no longer matches its entry.
        {"control_id": control.id, "passed": run.passed, "hash": run.hash},
    )
    if not run.passed:
        # An ERROR line for the log pipeline's alerting, besides the gauge's alert.
        log.error(
            "compliance.control_failed", control_id=control.id, run_id=run.id, reason=run.reason
        )
    return run


async def _append(
    session: AsyncSession,
    control: Control,
    outcome: Outcome,
    *,
    now: datetime,
    finished_at: datetime,
) -> ControlRun:
    # The figures are stored as JSON; normalising them first makes what is hashed exactly
    # what is stored and read back (Decimal and datetime figures become strings).
    figures = to_jsonable_python(outcome.figures, fallback=str)
    manifest = manifest_of(outcome.evidence)
    content = RunContent(
        control_id=control.id,
        criteria=tuple(control.criteria),
        frequency=control.frequency.value,
        started_at=now.astimezone(UTC),
        finished_at=finished_at.astimezone(UTC),
        covers_from=outcome.covers_from.astimezone(UTC),
        covers_to=outcome.covers_to.astimezone(UTC),
        passed=outcome.passed,
        reason=outcome.reason,
        figures=figures,
        evidence=tuple(manifest),
    )
    prev_hash = await repository.lock_chain_and_read_tail(session)
    run = ControlRun(
        control_id=content.control_id,
        criteria=list(content.criteria),
        frequency=content.frequency,
        started_at=content.started_at,
        finished_at=content.finished_at,
        covers_from=content.covers_from,
        covers_to=content.covers_to,
        passed=content.passed,
        reason=content.reason,
        figures=content.figures,
        evidence=manifest,
        prev_hash=prev_hash,
        hash=run_hash(prev_hash, content),
    )
    session.add(run)
    await session.flush()
    for item, described in zip(outcome.evidence, manifest, strict=True):
        session.add(
            ControlEvidence(
                run_id=run.id,
                name=item.name,
                media_type=item.media_type,
                size=described["size"],
                sha256=described["sha256"],
                content=item.content,
            )
        )
    await session.flush()
    return run


def publish(runs: Sequence[ControlRun]) -> None:
    """Set the failed-control gauge from committed runs (call after the commit: a verdict
    that rolled back was never recorded)."""
    for run in runs:
        CONTROL_FAILED.labels(control=run.control_id).set(0 if run.passed else 1)


async def due_controls(
    session: AsyncSession, controls: Sequence[Control], *, now: datetime
) -> list[Control]:
    """The controls with no run in their current period."""
    latest = await repository.latest_started(session, [c.id for c in controls])
    return [c for c in controls if is_due(c.frequency, latest.get(c.id), now)]


async def run_due(
    session: AsyncSession,
    settings: Settings,
    *,
    now: datetime,
    routes: Sequence[Any] = (),
    controls: Sequence[Control],
) -> list[ControlRun]:
    """Run each of ``controls`` that is due, in ``session``'s transaction (the job gives each
    control a transaction of its own, so one cannot lose another's result)."""
    return [
        await run_control(session, control, settings=settings, now=now, routes=routes)
        for control in await due_controls(session, controls, now=now)
    ]


async def run_scheduled(
    db: Database,
    settings: Settings,
    *,
    now: datetime,
    routes: Sequence[Any] = (),
    controls: Sequence[Control],
) -> list[ControlRun]:
    """The schedule's work: each due control in a transaction of its own, committed before the
    next starts (one control's fault cannot lose another's result), then the gauges set."""
    async with db.sessionmaker() as session:
        due = await due_controls(session, controls, now=now)
    runs: list[ControlRun] = []
    for control in due:
        async with db.unit_of_work() as session:
            run = await run_control(session, control, settings=settings, now=now, routes=routes)
        publish([run])
        runs.append(run)
    # Every control's latest verdict again, from the database: a restarted worker (whose
    # metric files start empty) or a run made elsewhere shows within one tick, and a failed
    # quarterly control keeps alerting for the months until its next run.
    async with db.sessionmaker() as session:
        latest = await repository.latest_runs(session, [c.id for c in controls])
    publish(list(latest.values()))
    return runs


async def run_now(
    session: AsyncSession,
    control_id: str,
    *,
    settings: Settings,
    now: datetime,
    routes: Sequence[Any] = (),
    actor: Actor,
    controls: Sequence[Control],
) -> Result[ControlRun, DomainError]:
    """An administrator's run of one control, due or not (after a fix, to show it holds); it
    joins the chain like a scheduled run, audited as theirs."""
    for control in controls:
        if control.id == control_id:
            run = await run_control(
                session, control, settings=settings, now=now, routes=routes, actor=actor
            )
            return Ok(run)
    return Err(CONTROL_NOT_FOUND)
