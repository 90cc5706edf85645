"""What operations record for the SOC 2 controls, and the reads the controls make of it:
backups and restore checks (A1.2), and when /metrics was last scraped (CC7.2).

The controls call these through ``operations`` rather than reading the tables themselves.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.database import Database
from pd_prime_demo.operations.models import BackupRun, MetricsScrape

log = structlog.get_logger(__name__)

BACKUP = "backup"
RESTORE_VERIFICATION = "restore_verification"
METRICS_ENDPOINT = "metrics"
# CC7.2 needs "a scrape within the last hour" (compliance_max_scrape_age_seconds >= 60): one
# write a minute per process is plenty and keeps a 15-second scrape from writing each time.
SCRAPE_WRITE_INTERVAL_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A backup or a restore check, as ``pd-prime backup`` / ``pd-prime restore`` saw it."""

    kind: str
    ok: bool
    file: str
    sha256: str
    size_bytes: int
    backup_created_at: datetime
    migration_revision: str | None
    audit_entries: int
    detail: str


async def record_run(url: str, run: RunRecord, *, actor: Actor) -> None:
    """Append ``run`` to ``backup_runs`` of the database at ``url``, with its audit entry in
    the same transaction. ``url`` is always the LIVE platform database (the one the A1.2
    control examines), never the restored copy, which is scratch and thrown away."""
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            row = BackupRun(finished_at=clock.now(), **_fields(run))
            session.add(row)
            await session.flush()
            await audit.record(
                session,
                actor,
                f"operations.{run.kind}_recorded",
                "backup_run",
                str(row.id),
                {"ok": run.ok, "sha256": run.sha256},
            )
    finally:
        await engine.dispose()


def _fields(run: RunRecord) -> dict[str, object]:
    return {
        "kind": run.kind,
        "ok": run.ok,
        "file": run.file,
        "sha256": run.sha256,
        "size_bytes": run.size_bytes,
        "backup_created_at": run.backup_created_at,
        "migration_revision": run.migration_revision,
        "audit_entries": run.audit_entries,
        "detail": run.detail,
    }


async def latest_successful(session: AsyncSession, kind: str) -> BackupRun | None:
    """The newest successful run of ``kind`` (on ix_backup_runs_kind_finished_at)."""
    return await session.scalar(
        select(BackupRun)
        .where(BackupRun.kind == kind, BackupRun.ok.is_(True))
        .order_by(BackupRun.finished_at.desc())
        .limit(1)
    )


async def runs_between(
    session: AsyncSession, start: datetime, end: datetime, *, limit: int = 500
) -> list[BackupRun]:
    """The runs of a period, newest first, at most ``limit`` (the evidence of one control run:
    a period is at most a quarter of daily backups)."""
    return list(
        await session.scalars(
            select(BackupRun)
            .where(BackupRun.finished_at >= start, BackupRun.finished_at <= end)
            .order_by(BackupRun.finished_at.desc())
            .limit(limit)
        )
    )


class ScrapeRecorder:
    """Records that /metrics answered a scraper, at most once a minute per process (the
    throttle is in-process: several processes write a few times a minute, which is cheap)."""

    def __init__(self, interval_seconds: float = SCRAPE_WRITE_INTERVAL_SECONDS) -> None:
        self._interval = interval_seconds
        self._last_write: float | None = None

    def due(self) -> bool:
        return self._last_write is None or time.monotonic() - self._last_write >= self._interval

    async def record(self, db: Database) -> None:
        if not self.due():
            return
        # Claimed before the write: concurrent scrapes of this process do not all write.
        self._last_write = time.monotonic()
        now = clock.now()
        statement = insert(MetricsScrape).values(endpoint=METRICS_ENDPOINT, last_scraped_at=now)
        statement = statement.on_conflict_do_update(
            index_elements=[MetricsScrape.endpoint],
            set_={"last_scraped_at": now},
            where=MetricsScrape.last_scraped_at < now,
        )
        # Telemetry about the monitoring, not a change to the platform's records: no audit
        # entry (one a minute would drown the audit log).
        async with db.sessionmaker() as session, session.begin():
            await session.execute(statement)


async def last_scrape(session: AsyncSession) -> datetime | None:
    """When /metrics last answered a scraper (None: never recorded)."""
    return await session.scalar(
        select(MetricsScrape.last_scraped_at).where(MetricsScrape.endpoint == METRICS_ENDPOINT)
    )
