"""Verifying the control-run chain: every run's hash over its content and its predecessor's,
every run's stored evidence matching its manifest, and the chain anchored in the audit log
(used by the export and the CLI).

The run chain alone cannot show that its newest runs were deleted or rewritten together with
their hashes: every run's hash is also in its ``compliance.control_run`` audit entry, and the
audit chain is covered by signed checkpoints (AICPA TSC CC4.1, PI1.5). So every such entry
must match a run with that id and hash, and every run must have its entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.compliance import repository
from pd_prime_demo.compliance.models import ControlRun
from pd_prime_demo.compliance.rules import GENESIS_HASH, RunContent, run_hash
from pd_prime_demo.core.result_types import Ok

_RUN_ACTION = "compliance.control_run"


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
    anchored = await _check_anchors(session, batch_size=batch_size)
    if anchored is not None:
        bad_id, reason = anchored
        return RunChainReport(checked, bad_id, reason, *(head or (None, None)))
    return RunChainReport(checked, None, None, *(head or (None, None)))


async def _check_anchors(session: AsyncSession, *, batch_size: int) -> tuple[int, str] | None:
    """The first run (newest first) whose audit entry and row disagree, and how.

    The audit entries are read a page at a time, newest first; each page's runs are fetched by
    id. A run with no entry is found by counting: as many entries as runs, and every entry
    matched, leaves no run without one.
    """
    # Runs recorded in this transaction have their entries pending until the commit: chain
    # them now so they are read (a no-op, and no lock, when nothing is pending).
    await audit.write_pending(session)
    cursor: str | None = None
    entries = 0
    while True:
        page = await audit.list_entries(
            session, resource_type="control_run", resource_id=None, cursor=cursor, limit=batch_size
        )
        if not isinstance(page, Ok):
            return 0, "the audit entries of the runs could not be read"
        found, cursor = page.value
        recorded: dict[int, str | None] = {}
        for entry in found:
            if entry.action != _RUN_ACTION:
                continue
            if not entry.resource_id.isdigit():
                return 0, f"audit entry {entry.id} names no run"
            changes = entry.changes or {}
            recorded[int(entry.resource_id)] = changes.get("hash")
        entries += len(recorded)
        stored = await repository.run_hashes(session, list(recorded))
        for run_id in sorted(recorded, reverse=True):
            if run_id not in stored:
                return run_id, "run missing: its audit entry remains (a run was removed)"
            if recorded[run_id] != stored[run_id]:
                return run_id, "run does not match the hash in its audit entry"
        if cursor is None:
            break
    runs = await repository.count_runs(session)
    if runs != entries:
        # Which run it is would take every matched id in memory; the count names the fault and
        # first_bad_id 0 marks a fault of the chain as a whole.
        return 0, f"{runs - entries} run(s) have no audit entry (recorded outside the runner)"
    return None
