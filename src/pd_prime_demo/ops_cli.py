"""``pd-prime backup`` and ``pd-prime restore``: pg_dump / pg_restore around the platform's
database, and the check of a restored copy (its audit chain and its ledger). The logic is in
:mod:`pd_prime_demo.operations.backup`; these commands parse, run it and report.

Exit codes: 0 done and every check passed; 1 a check failed (the report names it); 2 refused
before anything was written (tools missing or too old, a target that is not empty, the live
database, no manifest).

Each backup and each restore check is recorded in ``backup_runs`` of the LIVE platform
database (the A1.2 control's evidence: AICPA TSC A1.2, backups taken and restores tested).
For ``restore`` that is the database the settings name, never ``--database-url``: the copy is a
scratch database thrown away after its check, and the controls examine the live one. A check
that passed but could not be recorded exits 1: to the auditor it did not happen.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from pd_prime_demo import bootstrap
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.config import get_settings
from pd_prime_demo.core.database import to_async_url
from pd_prime_demo.operations import backup as backups
from pd_prime_demo.operations import evidence
from pd_prime_demo.operations.backup_tools import BackupError


def _refuse(error: BackupError) -> typer.Exit:
    typer.echo(f"refused: {error}", err=True)
    return typer.Exit(2)


def _unreachable(error: Exception) -> typer.Exit:
    # The driver's own words (database "x" does not exist, connection refused): never the
    # URL, which may hold a password.
    cause = getattr(error, "orig", None) or error
    first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return _refuse(BackupError(f"cannot use the database: {first_line}"))


def _record(url: str, run: evidence.RunRecord) -> None:
    """Record ``run`` in the live database at ``url``; exit 1 if it cannot be."""
    try:
        asyncio.run(evidence.record_run(url, run, actor=Actor.system("cli")))
    except (SQLAlchemyError, OSError) as error:
        cause = getattr(error, "orig", None) or error
        first_line = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        typer.echo(f"warning: not recorded in backup_runs: {first_line}", err=True)
        raise typer.Exit(1) from error


def _run_of(kind: str, manifest: backups.Manifest, *, ok: bool, detail: str) -> evidence.RunRecord:
    return evidence.RunRecord(
        kind=kind,
        ok=ok,
        file=manifest.file,
        sha256=manifest.sha256,
        size_bytes=manifest.size_bytes,
        backup_created_at=datetime.fromisoformat(manifest.created_at),
        migration_revision=manifest.figures.migration_revision,
        audit_entries=manifest.figures.audit_entries,
        detail=detail,
    )


def backup(
    output: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the dump (its manifest goes beside it); default: a "
            "timestamped file in the backup directory (PD_PRIME_BACKUP_DIR)."
        ),
    ] = None,
) -> None:
    """Back up the database (pg_dump, custom format) with a manifest to check restores by."""
    # Whether the platform runs on the embedded server decides whose pg_dump comes first;
    # bootstrap then resolves (and if need be starts) the database either way.
    embedded = get_settings().database_url is None
    settings = bootstrap.settings()
    assert settings.database_url is not None
    url = to_async_url(settings.database_url)
    if output is None:
        directory = settings.backup_dir
        if not directory.is_absolute():
            directory = settings.data_dir / directory
        output = backups.default_dump_path(directory, make_url(url).database, datetime.now(UTC))
    try:
        manifest = asyncio.run(backups.create_backup(url, output, embedded=embedded))
    except BackupError as error:
        raise _refuse(error) from error
    except (SQLAlchemyError, OSError) as error:
        raise _unreachable(error) from error
    figures = manifest.figures
    typer.echo(
        "\n".join(
            [
                f"backup written: {output} ({manifest.size_bytes} bytes, sha256 {manifest.sha256})",
                f"manifest: {backups.manifest_path(output)}",
                f"  migration {figures.migration_revision}, server {manifest.server_version}, "
                f"pg_dump {manifest.pg_dump_version}",
                f"  audit chain: {figures.audit_entries} entries"
                + ("" if figures.audit_intact else f" (BROKEN at {figures.audit_problem})"),
                f"  ledger: debits {figures.ledger_debits}, credits {figures.ledger_credits}",
            ]
        )
    )
    healthy = figures.audit_intact and not figures.ledger_unbalanced_entries
    _record(
        url,
        _run_of(
            evidence.BACKUP,
            manifest,
            ok=healthy,
            detail=f"audit chain {'intact' if figures.audit_intact else 'BROKEN'}, "
            f"{len(figures.ledger_unbalanced_entries)} unbalanced journal entries",
        ),
    )
    if not healthy:
        # The backup is kept (it is what there is), but an operator must hear of it now.
        typer.echo("warning: the backed-up database fails its own integrity checks", err=True)
        raise typer.Exit(1)


def restore(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url",
            help="The EMPTY database to restore into (never the live one).",
            envvar="PD_PRIME_RESTORE_DATABASE_URL",
        ),
    ],
    check_only: Annotated[
        bool,
        typer.Option(help="Do not restore: only check a copy restored before."),
    ] = False,
) -> None:
    """Restore a backup into an empty database, then check its audit chain and ledger."""
    configured = get_settings()
    embedded = configured.database_url is None
    try:
        report = asyncio.run(
            backups.restore_backup(
                path,
                to_async_url(database_url),
                check_only=check_only,
                live_url=to_async_url(configured.database_url) if configured.database_url else None,
                embedded=embedded,
            )
        )
    except (BackupError, ValueError) as error:
        raise _refuse(BackupError(str(error))) from error
    except (SQLAlchemyError, OSError) as error:
        raise _unreachable(error) from error
    for line in report.lines():
        typer.echo(line)
    if not check_only:
        # A check of a copy restored before (--check-only) proves no restore of its own: only a
        # restore and its check together are a verified restore (A1.2).
        live = bootstrap.settings().database_url
        assert live is not None
        _record(
            to_async_url(live),
            _run_of(
                evidence.RESTORE_VERIFICATION,
                backups.load_manifest(path),
                ok=report.ok,
                detail="\n".join(report.lines()),
            ),
        )
    if not report.ok:
        typer.echo("restore check FAILED: the copy does not match the backup", err=True)
        raise typer.Exit(1)
    typer.echo("restore check passed: the copy matches the backup")
