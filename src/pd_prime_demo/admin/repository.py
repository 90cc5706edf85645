"""Queries on the job queue's tables for the admin view (read only)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.admin.models import QueuedJob, QueueEvent
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.queue import JobError
from pd_prime_demo.core.result_types import DomainError, Result


async def page(
    session: AsyncSession,
    *,
    status: str | None,
    task: str | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[QueuedJob], str | None], DomainError]:
    """Jobs, newest first, optionally of one status and task."""
    query = select(QueuedJob)
    if status is not None:
        query = query.where(QueuedJob.status == status)
    if task is not None:
        query = query.where(QueuedJob.task_name == task)
    return await keyset_page(
        session, query, cursor=cursor, limit=limit, keys=(QueuedJob.id,), descending=True
    )


async def get(session: AsyncSession, job_id: int) -> QueuedJob | None:
    return await session.get(QueuedJob, job_id, populate_existing=True)


async def errors(session: AsyncSession, job_ids: Sequence[int]) -> dict[int, JobError]:
    if not job_ids:
        return {}
    rows = await session.scalars(select(JobError).where(JobError.job_id.in_(job_ids)))
    return {row.job_id: row for row in rows}


async def history(session: AsyncSession, job_id: int) -> list[tuple[str | None, datetime | None]]:
    rows = await session.execute(
        select(QueueEvent.type, QueueEvent.at)
        .where(QueueEvent.job_id == job_id)
        .order_by(QueueEvent.id)
    )
    return [(kind, at) for kind, at in rows]


async def counts(session: AsyncSession) -> list[tuple[str, str, int]]:
    """How many jobs each task has waiting, running and failed."""
    rows = await session.execute(
        select(QueuedJob.task_name, QueuedJob.status, func.count())
        .where(QueuedJob.status.in_(("todo", "doing", "failed")))
        .group_by(QueuedJob.task_name, QueuedJob.status)
        .order_by(QueuedJob.task_name, QueuedJob.status)
    )
    return [(task, status, count) for task, status, count in rows]


async def oldest_waiting(session: AsyncSession, *, now: datetime) -> datetime | None:
    """When the longest-waiting job that is due fell due (deferred, or scheduled for)."""
    deferred = (
        select(func.min(QueueEvent.at))
        .where(QueueEvent.job_id == QueuedJob.id, QueueEvent.type == "deferred")
        .scalar_subquery()
    )
    due = func.coalesce(QueuedJob.scheduled_at, deferred)
    return await session.scalar(
        select(func.min(due)).where(
            QueuedJob.status == "todo",
            (QueuedJob.scheduled_at.is_(None)) | (QueuedJob.scheduled_at <= now),
        )
    )
