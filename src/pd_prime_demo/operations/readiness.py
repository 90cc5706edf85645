"""Readiness: whether this process can serve, dependency by dependency.

The answer is cached per process for ``ready_cache_seconds`` and computed by one caller at a
time (the others wait for it and share it), so a load balancer, an orchestrator and a status
page polling every second cost at most one round of checks a second. Each dependency has a
short timeout of its own: a hung Redis must not make the database look down, nor the probe
outlive the poller's own timeout.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Literal

import sqlalchemy.exc
import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from pd_prime_demo.core.cache import Cache
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.database import Database, current_revision, migration_head
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.operations.service import pool_use, queue_figures

log = structlog.get_logger(__name__)

# Well under the 1-5 s a poller typically waits for an answer.
CHECK_TIMEOUT_SECONDS = 2.0

# The server's own data directory, visible only to a role allowed to read it (the embedded
# server's superuser): pg_settings hides the row from others instead of raising.
_DATA_DIRECTORY = text("SELECT setting FROM pg_settings WHERE name = 'data_directory'")


class Check(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    ok: bool
    detail: str = Field(examples=["reachable"])
    gating: bool = Field(
        default=True,
        description="Whether a failure of this check makes the process not ready (503); a "
        "failing check that does not gate (the queue's lag, by default) makes it degraded.",
    )
    figures: dict[str, float] | None = Field(
        default=None,
        description="The measurements behind the verdict (queue: job counts and the oldest "
        "due job's wait in seconds; disk: free and required bytes).",
        examples=[{"oldest_due_age_seconds": 0.4, "todo": 3, "doing": 1, "failed": 0}],
    )


class Readiness(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    status: Literal["ready", "degraded", "not_ready"] = Field(
        description="ready: every check passed; degraded (still 200): only checks that do not "
        "gate failed; not_ready (503): a gating check failed."
    )
    checked_at: datetime = Field(
        description="When the checks ran (answers are shared for ready_cache_seconds)."
    )
    checks: dict[str, Check] = Field(
        description="database, migrations and queue always; redis when REDIS_URL is set; "
        "disk when the database's files are on this machine (the embedded server)."
    )

    @property
    def ready(self) -> bool:
        """Whether the process should receive traffic (ready or degraded)."""
        return self.status != "not_ready"


def _unknown(why: str) -> Check:
    return Check(ok=False, detail=f"unknown: {why}")


def _queue_check(
    jobs: dict[tuple[str, str], int],
    oldest: float,
    unpublished: int,
    max_lag: int,
    *,
    gating: bool,
) -> Check:
    by_status = dict.fromkeys(("todo", "doing", "failed"), 0)
    for (_queue, status), count in jobs.items():
        by_status[status] = by_status.get(status, 0) + count
    figures = {
        "oldest_due_age_seconds": round(oldest, 3),
        **{status: float(n) for status, n in by_status.items()},
        "unpublished_events": float(unpublished),
    }
    if oldest > max_lag:
        detail = f"lagging: the oldest due job has waited {oldest:.0f} s (limit {max_lag} s)"
        return Check(ok=False, detail=detail, figures=figures, gating=gating)
    return Check(ok=True, detail="keeping up", figures=figures, gating=gating)


def disk_check(directory: Path, min_free_bytes: int) -> Check:
    """The free space of the file system holding ``directory`` against the floor."""
    try:
        stats = os.statvfs(directory)
    except OSError as exc:
        return _unknown(f"cannot stat the data directory ({type(exc).__name__})")
    free = stats.f_bavail * stats.f_frsize  # what an unprivileged writer may still use
    figures = {"free_bytes": float(free), "min_free_bytes": float(min_free_bytes)}
    if free < min_free_bytes:
        detail = f"low: {free} bytes free, {min_free_bytes} required"
        return Check(ok=False, detail=detail, figures=figures)
    return Check(ok=True, detail=f"{free} bytes free", figures=figures)


def local_disk_check(data_directory: str | None, min_free_bytes: int) -> Check | None:
    """The disk check of the server's data directory if it is on this machine, else None (a
    remote server's path means nothing here, and its disk is its operator's to watch)."""
    if data_directory is None or not Path(data_directory).is_dir():
        return None
    return disk_check(Path(data_directory), min_free_bytes)


@functools.cache
def known_revisions() -> frozenset[str]:
    """Every revision this code's migrations define."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(resources.files("pd_prime_demo").joinpath("migrations")))
    return frozenset(revision.revision for revision in script.walk_revisions())


def _migrations_check(current: str | None, head: str | None) -> Check:
    """Gates only when the database is behind the code: a revision the code does not know is
    a newer release's, migrated first in a rolling deploy, and its migrations keep the schema
    this code reads (a column is dropped a release after the code stops reading it)."""
    if current == head:
        return Check(ok=True, detail=f"at {current}, head is {head}")
    if current is not None and current not in known_revisions():
        return Check(
            ok=True,
            detail=f"at {current}, newer than this code's head {head} (a later release migrated)",
        )
    return Check(ok=False, detail=f"behind: at {current}, head is {head}")


def _saturated(db: Database) -> Check | None:
    """The database check of a checkout that timed out with every connection of the pool in
    use (this process is busy, the database may be fine: the pool figures say which); None
    when the pool had room, so the wait was the database's."""
    use = pool_use(db)
    if use is None or not use.saturated:
        return None
    detail = f"pool saturated: {use.in_use} of {use.ceiling} connections in use"
    return Check(ok=False, detail=detail, gating=False)


async def _database_checks(db: Database, settings: Settings) -> dict[str, Check]:
    checks: dict[str, Check] = {}
    head = migration_head()
    connected = False
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), db.sessionmaker() as session:
            await session.connection()
            connected = True
            await session.execute(text("SELECT 1"))
            checks["database"] = Check(ok=True, detail="reachable")
            checks["migrations"] = _migrations_check(await current_revision(session), head)
            figures = await queue_figures(session)
            checks["queue"] = _queue_check(
                figures.jobs,
                figures.oldest_due_age_seconds,
                figures.unpublished_events,
                settings.ready_max_queue_lag_seconds,
                gating=settings.ready_queue_lag_gates,
            )
            data_directory = await session.scalar(_DATA_DIRECTORY)
    except Exception as exc:  # any failure to reach or read the database means not ready
        timed_out = isinstance(exc, TimeoutError | sqlalchemy.exc.TimeoutError)
        name = "timed out" if timed_out else type(exc).__name__
        saturated = _saturated(db) if timed_out and not connected else None
        if saturated is not None:
            # Nothing was asked of the database: its checks are not failures of this process.
            waiting = f"unknown: no connection free ({saturated.detail})"
            return {
                "database": saturated,
                "migrations": Check(ok=False, detail=waiting, gating=False),
                "queue": Check(ok=False, detail=waiting, gating=False),
            }
        if "database" not in checks:
            checks["database"] = Check(ok=False, detail=f"unreachable: {name}")
        unanswered = _unknown(f"the database did not answer ({name})")
        checks.setdefault("migrations", unanswered)
        checks.setdefault(
            "queue", unanswered.model_copy(update={"gating": settings.ready_queue_lag_gates})
        )
        return checks
    disk = await asyncio.to_thread(
        local_disk_check, data_directory, settings.ready_min_free_disk_bytes
    )
    if disk is not None:
        checks["disk"] = disk
    return checks


async def _redis_check(cache: Cache) -> Check:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            ok = await cache.ping()
    except TimeoutError:
        return Check(ok=False, detail="unreachable: timed out")
    return Check(ok=ok, detail="reachable" if ok else "unreachable")


async def check_readiness(db: Database, cache: Cache, settings: Settings) -> Readiness:
    """Run every check now (the database and Redis side by side)."""
    database = _database_checks(db, settings)
    if settings.redis_url:
        found, redis = await asyncio.gather(database, _redis_check(cache))
        checks = {**found, "redis": redis}
    else:
        checks = await database
    failing = [check for check in checks.values() if not check.ok]
    status: Literal["ready", "degraded", "not_ready"] = (
        "ready"
        if not failing
        else "not_ready"
        if any(check.gating for check in failing)
        else "degraded"
    )
    return Readiness(status=status, checked_at=datetime.now(UTC), checks=checks)


@dataclass(slots=True)
class ReadinessProbe:
    """One process's cached readiness answer (single flight: one round of checks at a time)."""

    runtime: Runtime
    _answer: Readiness | None = None
    _fresh_until: float = 0.0
    _lock: asyncio.Lock | None = None

    async def answer(self) -> Readiness:
        if self._answer is not None and time.monotonic() < self._fresh_until:
            return self._answer
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            # Whoever waited on the lock finds the answer its predecessor just computed.
            if self._answer is None or time.monotonic() >= self._fresh_until:
                runtime = self.runtime
                answer = await check_readiness(runtime.db, runtime.cache, runtime.settings)
                if self._answer is None or answer.status != self._answer.status:
                    # Once per change, not per poll: the moment a process left rotation.
                    failing = sorted(name for name, c in answer.checks.items() if not c.ok)
                    (log.warning if failing else log.info)(
                        "readiness.changed", status=answer.status, failing=failing
                    )
                self._answer = answer
                self._fresh_until = time.monotonic() + runtime.settings.ready_cache_seconds
            return self._answer
