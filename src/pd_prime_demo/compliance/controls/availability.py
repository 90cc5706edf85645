"""Backups and restore tests (AICPA TSC A1.2: "recovery infrastructure ... backup processes").

``pd-prime backup`` and ``pd-prime restore`` record each run in ``backup_runs`` of the live
database (``operations.evidence``): a backup within ``compliance_max_backup_age_hours`` and a
restore verified (restored into an empty database, its audit chain, ledger and row counts
matching the manifest) within ``compliance_max_restore_test_age_days``.
"""

from __future__ import annotations

from datetime import timedelta

from pd_prime_demo.compliance.control import Control, ControlContext, Frequency, Outcome
from pd_prime_demo.compliance.controls.evidence import csv_evidence
from pd_prime_demo.operations import evidence as operations


async def backups(ctx: ControlContext) -> Outcome:
    backup_limit = timedelta(hours=ctx.settings.compliance_max_backup_age_hours)
    restore_limit = timedelta(days=ctx.settings.compliance_max_restore_test_age_days)
    last_backup = await operations.latest_successful(ctx.session, operations.BACKUP)
    last_restore = await operations.latest_successful(ctx.session, operations.RESTORE_VERIFICATION)
    since = ctx.now - restore_limit
    runs = await operations.runs_between(ctx.session, since, ctx.now)
    evidence = (
        csv_evidence(
            "backup_runs.csv",
            [
                "id",
                "kind",
                "finished_at",
                "ok",
                "file",
                "sha256",
                "size_bytes",
                "backup_created_at",
                "migration_revision",
                "audit_entries",
            ],
            (
                [
                    r.id,
                    r.kind,
                    r.finished_at,
                    r.ok,
                    r.file,
                    r.sha256,
                    r.size_bytes,
                    r.backup_created_at,
                    r.migration_revision,
                    r.audit_entries,
                ]
                for r in runs
            ),
        ),
    )
    figures = {
        "runs_in_period": len(runs),
        "failed_in_period": sum(not r.ok for r in runs),
    }
    problems = []
    if last_backup is None:
        problems.append("no successful backup has been recorded")
    elif ctx.now - last_backup.finished_at > backup_limit:
        problems.append(
            f"the last successful backup finished at {last_backup.finished_at.isoformat()}, "
            f"over {ctx.settings.compliance_max_backup_age_hours} hours ago"
        )
    if last_restore is None:
        problems.append("no verified restore has been recorded")
    elif ctx.now - last_restore.finished_at > restore_limit:
        problems.append(
            f"the last verified restore was at {last_restore.finished_at.isoformat()}, over "
            f"{ctx.settings.compliance_max_restore_test_age_days} days ago"
        )
    if problems:
        return Outcome(False, "; ".join(problems), since, ctx.now, evidence, figures)
    assert last_backup is not None
    assert last_restore is not None
    reason = (
        f"last backup {last_backup.file} at {last_backup.finished_at.isoformat()} "
        f"(sha256 {last_backup.sha256[:12]}…); last verified restore of "
        f"{last_restore.file} at {last_restore.finished_at.isoformat()}"
    )
    return Outcome(True, reason, since, ctx.now, evidence, figures)


BACKUPS = Control(
    id="A1.2-backups",
    criteria=("A1.2",),
    title="Backups taken and a restore verified",
    description=(
        "A successful backup within compliance_max_backup_age_hours and a verified restore "
        "(pd-prime restore: the copy's audit chain, ledger and row counts match the backup's "
        "manifest) within compliance_max_restore_test_age_days."
    ),
    frequency=Frequency.DAILY,
    test=backups,
)
