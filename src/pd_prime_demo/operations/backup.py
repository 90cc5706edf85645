"""Backups of the platform's database and the check of a restored copy.

A backup is a ``pg_dump -Fc`` archive and a manifest beside it. The manifest's figures (the
migration revision, the audit chain's length and head, the ledger's totals, every table's row
count) are read in the very snapshot the dump is taken from (``pg_export_snapshot`` and
``pg_dump --snapshot``), so a busy platform cannot make a good restore look incomplete. A
restore goes only into an empty database, after the archive's SHA-256 matched its manifest;
then the restored copy's own audit chain and ledger are verified and its figures compared with
the manifest's. The figures are read with ``audit.service`` and ``billing.service``: the same
checks as ``pd-prime audit verify`` and ``pd-prime ledger check``.

Passwords never appear on a command line (they would be visible to every user of the machine
in the process list): the tools get the connection in libpq's ``PG*`` environment variables.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import service as billing
from pd_prime_demo.core.database import current_revision
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.operations.backup_tools import (
    BackupError,
    Tools,
    find_tools,
    libpq_env,
    run_tool,
)

log = structlog.get_logger(__name__)

MANIFEST_FORMAT = "pd-prime-backup/1"

_USER_TABLES = text(
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname"
)
# Anything an operator or an earlier restore put there: a target holding it is not empty.
_USER_RELATIONS = text(
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
)


@dataclass(frozen=True, slots=True)
class Figures:
    """What a copy of the platform must reproduce exactly (money as exact decimal strings)."""

    migration_revision: str | None
    audit_entries: int
    audit_head_hash: str | None
    audit_intact: bool
    audit_problem: str | None
    ledger_debits: str
    ledger_credits: str
    ledger_unbalanced_entries: list[int]
    tables: dict[str, int]


@dataclass(frozen=True, slots=True)
class Manifest:
    format: str
    file: str
    sha256: str
    size_bytes: int
    created_at: str
    database: str | None
    server_version: str
    pg_dump_version: int
    figures: Figures

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, raw: str) -> Manifest:
        data: dict[str, Any] = json.loads(raw)
        if data.get("format") != MANIFEST_FORMAT:
            raise BackupError(f"not a {MANIFEST_FORMAT} manifest (format {data.get('format')!r})")
        return cls(**{**data, "figures": Figures(**data["figures"])})


def manifest_path(dump: Path) -> Path:
    return dump.with_suffix(".manifest.json")


@dataclass(frozen=True, slots=True)
class Finding:
    ok: bool
    check: str
    detail: str


@dataclass(slots=True)
class RestoreReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.findings) and all(f.ok for f in self.findings)

    def add(self, ok: bool, check: str, detail: str) -> None:
        self.findings.append(Finding(ok, check, detail))

    def lines(self) -> list[str]:
        return [f"{'ok  ' if f.ok else 'FAIL'}  {f.check}: {f.detail}" for f in self.findings]


async def read_figures(connection: AsyncConnection) -> Figures:
    """The figures of the database ``connection`` is on, in its current transaction."""
    async with AsyncSession(bind=connection) as session:
        chain = await audit.verify_chain(session)
        entries = await audit.count_entries(session)
        head = None
        page = await audit.list_entries(
            session, resource_type=None, resource_id=None, cursor=None, limit=1
        )
        if isinstance(page, Ok) and page.value[0]:
            head = page.value[0][0].hash
        trial = await billing.trial_balance(session)
        revision = await current_revision(session)
    quote = connection.dialect.identifier_preparer.quote
    tables: dict[str, int] = {}
    for name in (await connection.scalars(_USER_TABLES)).all():
        rows = await connection.scalar(text(f"SELECT count(*) FROM public.{quote(name)}"))  # noqa: S608 - a catalogue name, quoted
        tables[name] = int(rows or 0)
    return Figures(
        migration_revision=revision,
        audit_entries=entries,
        audit_head_hash=head,
        audit_intact=chain.ok,
        audit_problem=None if chain.ok else f"entry {chain.first_bad_id}: {chain.reason}",
        ledger_debits=str(trial.debits),
        ledger_credits=str(trial.credits),
        ledger_unbalanced_entries=sorted(trial.unbalanced_entries),
        tables=tables,
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_durably(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())
    partial.replace(path)


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _prepare(output: Path) -> Path:
    """The partial file the dump is written to, renamed only once complete and on disk."""
    if output.exists() or manifest_path(output).exists():
        raise BackupError(f"{output} or its manifest already exists: a backup never overwrites")
    output.parent.mkdir(parents=True, exist_ok=True)
    return output.with_name(output.name + ".partial")


def _seal(partial: Path, output: Path) -> tuple[str, int]:
    _fsync(partial)
    appeared = f"{output} appeared while dumping: a backup never overwrites"
    try:
        # A hard link, unlike a rename, fails if a backup of the same name appeared meanwhile.
        os.link(partial, output)
    except FileExistsError as exc:
        raise BackupError(appeared) from exc
    except OSError:  # a file system without hard links (some network mounts)
        if output.exists():
            raise BackupError(appeared) from None
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return sha256_of(output), output.stat().st_size


def default_dump_path(directory: Path, database: str | None, now: datetime) -> Path:
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return directory / f"pd-prime-{database or 'database'}-{stamp}.dump"


async def _server_major(connection: AsyncConnection) -> tuple[int, str]:
    number = int(await connection.scalar(text("SHOW server_version_num")) or 0)
    version = str(await connection.scalar(text("SHOW server_version")))
    return number // 10000, version


async def create_backup(url: str, output: Path, *, embedded: bool) -> Manifest:
    """Dump the database at ``url`` into ``output`` and write its manifest beside it."""
    partial = await asyncio.to_thread(_prepare, output)
    created_at = datetime.now(UTC)
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as raw:
            connection = await raw.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                await connection.execute(text("SET TRANSACTION READ ONLY"))
                # pg_dump reads this snapshot while this transaction stays open.
                snapshot = str(await connection.scalar(text("SELECT pg_export_snapshot()")))
                major, server_version = await _server_major(connection)
                tools = find_tools(major, embedded=embedded)
                figures = await read_figures(connection)
                await run_tool(
                    tools.pg_dump,
                    ["--format=custom", f"--snapshot={snapshot}", f"--file={partial}"],
                    env=libpq_env(url),
                )
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        await engine.dispose()
    digest, size = await asyncio.to_thread(_seal, partial, output)
    manifest = Manifest(
        format=MANIFEST_FORMAT,
        file=output.name,
        sha256=digest,
        size_bytes=size,
        created_at=created_at.isoformat(),
        database=make_url(url).database,
        server_version=server_version,
        pg_dump_version=tools.major,
        figures=figures,
    )
    await asyncio.to_thread(_write_durably, manifest_path(output), manifest.to_json().encode())
    await asyncio.to_thread(_fsync, output.parent)
    log.info(
        "backup.created",
        file=output.name,
        size_bytes=manifest.size_bytes,
        migration_revision=figures.migration_revision,
        audit_entries=figures.audit_entries,
    )
    return manifest


def load_manifest(dump: Path) -> Manifest:
    path = manifest_path(dump)
    if not path.is_file():
        raise BackupError(f"no manifest beside the dump (expected {path})")
    return Manifest.from_json(path.read_text("utf-8"))


def same_database(a: str, b: str) -> bool:
    """Whether two URLs name the same database on the same server (sockets included)."""
    first, second = make_url(a), make_url(b)

    def where(url: Any) -> tuple[object, ...]:
        return (url.host or url.query.get("host"), url.port or 5432, url.database)

    return where(first) == where(second)


async def _is_empty(connection: AsyncConnection) -> bool:
    return int(await connection.scalar(_USER_RELATIONS) or 0) == 0


async def restore_backup(
    dump: Path, target_url: str, *, check_only: bool, live_url: str | None, embedded: bool
) -> RestoreReport:
    """Restore ``dump`` into the empty database at ``target_url`` (unless ``check_only``),
    then check the copy against the manifest. A corrupt archive is never restored."""
    manifest = load_manifest(dump)
    report = RestoreReport()
    digest = await asyncio.to_thread(sha256_of, dump)
    if digest != manifest.sha256:
        report.add(False, "dump file", f"SHA-256 {digest} does not match the manifest's")
        return report
    report.add(True, "dump file", f"SHA-256 matches ({manifest.size_bytes} bytes)")
    if not check_only and live_url is not None and same_database(target_url, live_url):
        raise BackupError("refusing to restore over the platform's live database")
    engine = create_async_engine(target_url, pool_size=1, max_overflow=0)
    try:
        if not check_only:
            async with engine.connect() as connection:
                if not await _is_empty(connection):
                    raise BackupError(
                        "the target database is not empty: restore into a new, empty database"
                    )
                major, _ = await _server_major(connection)
            tools = find_tools(max(major, manifest.pg_dump_version), embedded=embedded)
            await _restore(tools, dump, target_url)
            report.add(True, "restore", f"pg_restore {tools.major} restored {manifest.file}")
        async with engine.connect() as raw:
            connection = await raw.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                figures = await read_figures(connection)
    finally:
        await engine.dispose()
    compare(manifest.figures, figures, report)
    return report


async def _restore(tools: Tools, dump: Path, target_url: str) -> None:
    env = libpq_env(target_url)
    # One transaction: a failed restore leaves the target as empty as it was. Owners and
    # grants are the source server's roles, which a new server need not have.
    await run_tool(
        tools.pg_restore,
        [
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-acl",
            f"--dbname={env['PGDATABASE']}",
            str(dump),
        ],
        env=env,
    )


def compare(expected: Figures, found: Figures, report: RestoreReport) -> None:
    """Add a finding for each kind of figure: the copy's own integrity, then the manifest's."""
    revision_ok = found.migration_revision == expected.migration_revision
    report.add(
        revision_ok,
        "migrations",
        f"at {found.migration_revision}"
        + ("" if revision_ok else f", the backup was at {expected.migration_revision}"),
    )
    if not found.audit_intact:
        report.add(False, "audit chain", f"BROKEN at {found.audit_problem}")
    elif (found.audit_entries, found.audit_head_hash) != (
        expected.audit_entries,
        expected.audit_head_hash,
    ):
        report.add(
            False,
            "audit chain",
            f"intact but {found.audit_entries} entries, head {found.audit_head_hash}; the "
            f"backup had {expected.audit_entries}, head {expected.audit_head_hash}",
        )
    else:
        report.add(True, "audit chain", f"intact, {found.audit_entries} entries, head matches")
    totals = (found.ledger_debits, found.ledger_credits)
    if found.ledger_unbalanced_entries or found.ledger_debits != found.ledger_credits:
        report.add(
            False,
            "ledger",
            f"NOT balanced: debits {found.ledger_debits}, credits {found.ledger_credits}, "
            f"unbalanced journal entries {found.ledger_unbalanced_entries}",
        )
    elif totals != (expected.ledger_debits, expected.ledger_credits):
        report.add(
            False,
            "ledger",
            f"balanced at {found.ledger_debits}, the backup's totals were "
            f"{expected.ledger_debits} / {expected.ledger_credits}",
        )
    else:
        report.add(True, "ledger", f"balanced, debits = credits = {found.ledger_debits}")
    differ = sorted(
        name
        for name in expected.tables.keys() | found.tables.keys()
        if expected.tables.get(name) != found.tables.get(name)
    )
    if differ:
        shown = ", ".join(
            f"{name} {found.tables.get(name, 'missing')} "
            f"(backup {expected.tables.get(name, 'none')})"
            for name in differ[:10]
        )
        report.add(False, "tables", f"row counts differ: {shown}")
    else:
        report.add(True, "tables", f"{len(found.tables)} tables, every row count matches")
