"""Operations use cases: the figures of the job queue that readiness and metrics share.

(Groundwork of issue 15: the metrics and health helpers add their use cases here or in
modules of their own beside it.)
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """The queue at one moment: jobs by (queue, status) for todo, doing and failed (the dead
    letters), and how long the oldest due job has waited (0.0 when none is due)."""

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


async def queue_figures(session: AsyncSession) -> QueueFigures:
    counts = {(q, s): int(n) for q, s, n in (await session.execute(_COUNTS)).all()}
    age = await session.scalar(_OLDEST_DUE)
    unpublished = await session.scalar(_UNPUBLISHED)
    return QueueFigures(
        jobs=counts,
        oldest_due_age_seconds=max(0.0, float(age or 0.0)),
        unpublished_events=int(unpublished or 0),
    )
