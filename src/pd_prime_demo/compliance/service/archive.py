"""The auditor's export for a period (AICPA SOC 2 Type II: the population of every control's
occurrences in the period, and the sample tested from it, reproducible from a recorded seed)."""

from __future__ import annotations

import secrets
import tempfile
from datetime import UTC, date, datetime, time, timedelta
from typing import IO

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.compliance import export, repository
from pd_prime_demo.compliance.control import Frequency
from pd_prime_demo.compliance.service.chain import verify_runs
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.result_types import DomainError, Err, FieldIssue, Ok, Result, invalid

_BATCH = 500
# Archives up to this size stay in memory; larger ones spill to a temporary file.
_SPOOL_BYTES = 16 * 1024 * 1024


def sample_sizes(settings: Settings) -> dict[Frequency, int]:
    """Samples as auditors commonly draw them; quarterly and annual controls are tested in full."""
    return {
        Frequency.DAILY: settings.compliance_sample_daily,
        Frequency.WEEKLY: settings.compliance_sample_weekly,
        Frequency.MONTHLY: settings.compliance_sample_monthly,
    }


def _check_period(start: date, end: date, settings: Settings) -> DomainError | None:
    if start > end:
        return invalid(
            "compliance.period_empty",
            "the period ends before it starts",
            FieldIssue("/query/to", "must be on or after 'from'"),
        )
    if (end - start).days + 1 > settings.compliance_export_max_days:
        return invalid(
            "compliance.period_too_long",
            f"an export covers at most {settings.compliance_export_max_days} days",
            FieldIssue("/query/to", "too far after 'from'"),
        )
    return None


async def export_period(
    session: AsyncSession,
    settings: Settings,
    *,
    start: date,
    end: date,
    seed: str | None,
    now: datetime,
    actor: Actor,
) -> Result[IO[bytes], DomainError]:
    """The archive of ``start``..``end`` (UTC days, inclusive), as a file positioned at its
    start (the caller closes it). The export is audited: who took which period."""
    if (error := _check_period(start, end, settings)) is not None:
        return Err(error)
    # Who chose the seed is part of the evidence: a seed the auditee picks could be tried
    # until the sample avoids a bad run, so the auditor supplies their own (AICPA AT-C 205,
    # sampling under the auditor's control) and the manifest says whose it is.
    seed_source = {"drawn_by": "server"} if not seed else {"supplied_by": actor.id}
    seed = seed or secrets.token_hex(16)
    sizes = sample_sizes(settings)
    begins = datetime.combine(start, time(0), tzinfo=UTC)
    ends = datetime.combine(end + timedelta(days=1), time(0), tzinfo=UTC)
    report = await verify_runs(session)

    file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (returned)
    archive = export.Archive(file)
    populations: dict[str, export.Population] = {}
    run_ids: list[int] = []

    # The session's identity map holds rows weakly, so a batch is released once written.
    # A zip's entries cannot be interleaved as they are written, so each file is one pass over
    # the period's runs, a batch at a time; the first gathers each control's population.
    with archive.entry(export.RUNS_JSONL) as write:
        async for batch in repository.runs_started_between(
            session, begins, ends, batch_size=_BATCH
        ):
            for run in batch:
                population = populations.setdefault(
                    run.control_id, export.Population(run.control_id, run.frequency)
                )
                population.runs.append((run.id, run.hash))
                run_ids.append(run.id)
                write(export.jsonl_line(run))
    with archive.entry(export.RUNS_CSV) as write:
        write(export.csv_bytes([list(export.CSV_COLUMNS)]))
        async for batch in repository.runs_started_between(
            session, begins, ends, batch_size=_BATCH
        ):
            write(export.csv_bytes(export.csv_row(run) for run in batch))

    for run_id in run_ids:
        for item in await repository.evidence_contents(session, run_id):
            archive.add(export.evidence_path(run_id, item.name), item.content)

    archive.add_json(
        export.SAMPLES, export.samples_document(populations.values(), seed=seed, sizes=sizes)
    )
    chain = {
        "ok": report.ok,
        "runs_checked": report.runs_checked,
        "first_bad_id": report.first_bad_id,
        "reason": report.reason,
        "head_id": report.head_id,
        "head_hash": report.head_hash,
    }
    archive.add_json(export.VERIFICATION, chain)
    archive.close(
        export.manifest_document(
            start=start,
            end=end,
            generated_at=now,
            seed=seed,
            sizes=sizes,
            runs=len(run_ids),
            chain=chain,
            seed_source=seed_source,
        )
    )
    await audit.record(
        session,
        actor,
        "compliance.exported",
        "compliance_export",
        f"{start.isoformat()}..{end.isoformat()}",
        {
            "runs": len(run_ids),
            "chain_ok": report.ok,
            "seed_supplied": "supplied_by" in seed_source,
        },
    )
    file.seek(0)
    return Ok(file)
