"""The job queue's admin use cases: list jobs (the failed ones with their last error), look at
one with its history, retry a failed one, cancel a waiting one, and a summary for operators.

Retries and cancellations go through procrastinate (its state machine, its notifications to
workers); each is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import procrastinate
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.admin import repository
from pd_prime_demo.admin.models import QueuedJob
from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.queue import JobError
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, conflict, not_found

NOT_FOUND = not_found("job")


@dataclass(frozen=True, slots=True)
class JobView:
    job: QueuedJob
    error: JobError | None
    history: tuple[tuple[str | None, datetime | None], ...] = ()


async def list_jobs(
    session: AsyncSession,
    *,
    status: str | None,
    task: str | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[JobView], str | None], DomainError]:
    match await repository.page(session, status=status, task=task, cursor=cursor, limit=limit):
        case Err() as err:
            return err
        case Ok((jobs, next_cursor)):
            errors = await repository.errors(session, [job.id for job in jobs])
            return Ok(([JobView(job, errors.get(job.id)) for job in jobs], next_cursor))
    raise AssertionError("unreachable")  # pragma: no cover


async def get_job(session: AsyncSession, job_id: int) -> Result[JobView, DomainError]:
    job = await repository.get(session, job_id)
    if job is None:
        return Err(NOT_FOUND)
    errors = await repository.errors(session, [job_id])
    history = tuple((kind, at) for kind, at in await repository.history(session, job_id))
    return Ok(JobView(job, errors.get(job_id), history))


async def retry_job(
    session: AsyncSession, queue: procrastinate.App, job_id: int, *, actor: Actor
) -> Result[JobView, DomainError]:
    """A failed (dead-lettered) job runs again now, with a fresh schedule of retries."""
    job = await repository.get(session, job_id)
    if job is None:
        return Err(NOT_FOUND)
    if job.status != "failed":
        return Err(
            conflict("job.not_failed", f"only a failed job is retried; this one is {job.status}")
        )
    await queue.job_manager.retry_job_by_id_async(job_id, retry_at=clock.now())
    await audit.record(session, actor, "job.retried", "job", str(job_id), {"task": job.task_name})
    return await get_job(session, job_id)


async def cancel_job(
    session: AsyncSession, queue: procrastinate.App, job_id: int, *, actor: Actor
) -> Result[JobView, DomainError]:
    """A job still waiting to run (todo) never runs."""
    job = await repository.get(session, job_id)
    if job is None:
        return Err(NOT_FOUND)
    if job.status != "todo" or not await queue.job_manager.cancel_job_by_id_async(job_id):
        return Err(
            conflict(
                "job.not_waiting", f"only a waiting job is cancelled; this one is {job.status}"
            )
        )
    await audit.record(session, actor, "job.cancelled", "job", str(job_id), {"task": job.task_name})
    return await get_job(session, job_id)


@dataclass(frozen=True, slots=True)
class QueueSummary:
    counts: tuple[tuple[str, str, int], ...]
    oldest_waiting_since: datetime | None


async def summary(session: AsyncSession) -> QueueSummary:
    now = clock.now()
    return QueueSummary(
        tuple(await repository.counts(session)),
        await repository.oldest_waiting(session, now=now),
    )
