"""Operations use cases: the figures of the job queue and of the connection pool that
readiness and metrics share.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import QueuePool

from pd_prime_demo.core.database import Database

# The statuses a queue is counted by: waiting, running, and the dead letters.
JOB_STATUSES = ("todo", "doing", "failed")
# The queues the worker works (``worker.BUSINESS_QUEUES`` and ``WEBHOOK_QUEUES``; a test holds
# them equal: this layer cannot import the entry point).
KNOWN_QUEUES = ("default", "documents", "sweeps", "webhooks")


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """The queue at one moment: jobs by (queue, status) for todo, doing and failed (the dead
    letters), zeros included for every known queue and every queue that has jobs, and how long
    the oldest due job has waited (0.0 when none is due)."""

    jobs: dict[tuple[str, str], int]
    oldest_due_age_seconds: float
    unpublished_events: int


# Counts over the partial indexes of todo/doing jobs and of failed ones; the oldest due job is
# the lowest id among todo jobs whose time has come (the index on (id, lock) for todo/doing),
# its wait measured from its schedule or, unscheduled, from when it was deferred.
_COUNTS = text(
    "SELECT queue_name, status::text, count(*) FROM procrastinate_jobs "
    "WHERE status IN ('todo', 'doing', 'failed') GROUP BY queue_name, status"
)
_OLDEST_DUE = text(
    """
    SELECT extract(epoch FROM now() - coalesce(j.scheduled_at, (
        SELECT min(e.at) FROM procrastinate_events e
        WHERE e.job_id = j.id AND e.type = 'deferred'
    ), now()))
    FROM procrastinate_jobs j
    WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
    ORDER BY j.id
    LIMIT 1
    """
)
_UNPUBLISHED = text("SELECT count(*) FROM outbox_events WHERE published_at IS NULL")


async def queue_figures(
    session: AsyncSession, known_queues: Iterable[str] = KNOWN_QUEUES
) -> QueueFigures:
    """The queue's figures; ``known_queues`` (by default the queues the worker works) count even
    when empty, so the first dead letter of a queue moves a series that was 0, where a series
    appearing from nothing at 1 is no rise to ``delta()`` or ``increase()``."""
    found = {(q, s): int(n) for q, s, n in (await session.execute(_COUNTS)).all()}
    queues = sorted({*known_queues, *(queue for queue, _status in found)})
    counts = {(q, s): found.get((q, s), 0) for q in queues for s in JOB_STATUSES}
    age = await session.scalar(_OLDEST_DUE)
    unpublished = await session.scalar(_UNPUBLISHED)
    return QueueFigures(
        jobs=counts,
        oldest_due_age_seconds=max(0.0, float(age or 0.0)),
        unpublished_events=int(unpublished or 0),
    )


@dataclass(frozen=True, slots=True)
class PoolUse:
    in_use: int
    ceiling: int

    @property
    def saturated(self) -> bool:
        return self.in_use >= self.ceiling


def pool_use(db: Database) -> PoolUse | None:
    """How many of the pool's connections are checked out, against how many it may open
    (size plus overflow); None for a pool without a ceiling (a test's, a NullPool)."""
    pool = db.engine.pool
    if not isinstance(pool, QueuePool):
        return None
    overflow = getattr(pool, "_max_overflow", 0)  # QueuePool keeps it only here
    ceiling = pool.size() + max(int(overflow), 0)
    return PoolUse(in_use=pool.checkedout(), ceiling=ceiling)
