"""Reading controls and runs: the catalogue with each control's latest result, the runs, one
run's evidence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.compliance import controls as controls_package
from pd_prime_demo.compliance import repository
from pd_prime_demo.compliance.control import Control
from pd_prime_demo.compliance.models import ControlEvidence, ControlRun
from pd_prime_demo.compliance.service.runner import CONTROL_NOT_FOUND
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, invalid, not_found

RUN_NOT_FOUND = not_found("control run", "compliance.run_not_found")
EVIDENCE_NOT_FOUND = not_found("evidence", "compliance.evidence_not_found")


@dataclass(frozen=True, slots=True)
class ControlStatus:
    control: Control
    latest: ControlRun | None


async def control_statuses(
    session: AsyncSession, controls: Sequence[Control]
) -> list[ControlStatus]:
    latest = await repository.latest_runs(session, [c.id for c in controls])
    return [ControlStatus(c, latest.get(c.id)) for c in controls]


def find_control(controls: Sequence[Control], control_id: str) -> Result[Control, DomainError]:
    for control in controls:
        if control.id == control_id:
            return Ok(control)
    return Err(CONTROL_NOT_FOUND)


async def list_runs(
    session: AsyncSession,
    *,
    control_id: str | None,
    started_from: datetime | None,
    started_before: datetime | None,
    passed: bool | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[ControlRun], str | None], DomainError]:
    """A page of runs, newest first (keyset on the chain's order)."""
    if started_from and started_before and started_from >= started_before:
        return Err(invalid("compliance.period_empty", "'from' must be before 'to'"))
    return await repository.page_runs(
        session,
        control_id=control_id,
        started_from=started_from,
        started_before=started_before,
        passed=passed,
        cursor=cursor,
        limit=limit,
    )


async def get_run(session: AsyncSession, run_id: int) -> Result[ControlRun, DomainError]:
    run = await repository.get_run(session, run_id)
    return Ok(run) if run is not None else Err(RUN_NOT_FOUND)


async def get_evidence(
    session: AsyncSession, run_id: int, name: str
) -> Result[ControlEvidence, DomainError]:
    evidence = await repository.get_evidence(session, run_id, name)
    return Ok(evidence) if evidence is not None else Err(EVIDENCE_NOT_FOUND)


def catalogue() -> tuple[Control, ...]:
    """The control catalogue the schedule, the API and the CLI run."""
    return controls_package.CONTROLS
