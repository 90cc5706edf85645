"""Verifying the control-run chain: every run's hash over its content and its predecessor's,
and every run's stored evidence matching its manifest (used by the export and the CLI)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.compliance import repository
from pd_prime_demo.compliance.models import ControlRun
from pd_prime_demo.compliance.rules import GENESIS_HASH, RunContent, run_hash


@dataclass(frozen=True, slots=True)
class RunChainReport:
    runs_checked: int
    first_bad_id: int | None
    reason: str | None
    head_id: int | None
    head_hash: str | None

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


def content_of(run: ControlRun) -> RunContent:
    return RunContent(
        control_id=run.control_id,
        criteria=tuple(run.criteria),
        frequency=run.frequency,
        started_at=run.started_at,
        finished_at=run.finished_at,
        covers_from=run.covers_from,
        covers_to=run.covers_to,
        passed=run.passed,
        reason=run.reason,
        figures=run.figures,
        evidence=tuple(run.evidence),
    )


def _evidence_fits(run: ControlRun, stored: list[tuple[str, str, int, str]]) -> bool:
    described = sorted(
        (item["name"], item["media_type"], item["size"], item["sha256"]) for item in run.evidence
    )
    return described == sorted(stored)


async def verify_runs(session: AsyncSession, *, batch_size: int = 2000) -> RunChainReport:
    """Walk the chain in id order; name the first run that does not fit."""
    expected_prev = GENESIS_HASH
    checked = 0
    head: tuple[int, str] | None = None
    async for batch in repository.chain_batches(session, batch_size=batch_size):
        stored = await repository.evidence_descriptions(session, [run.id for run in batch])
        for run in batch:
            failure = None
            if run.prev_hash != expected_prev:
                failure = "previous-hash link broken (a run was removed or reordered)"
            elif run_hash(run.prev_hash, content_of(run)) != run.hash:
                failure = "content does not match its hash"
            elif not _evidence_fits(run, stored.get(run.id, [])):
                failure = "stored evidence does not match the run's manifest"
            if failure is not None:
                return RunChainReport(checked, run.id, failure, *(head or (None, None)))
            expected_prev = run.hash
            head = (run.id, run.hash)
            checked += 1
    return RunChainReport(checked, None, None, *(head or (None, None)))
