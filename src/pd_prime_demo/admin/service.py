"""The job queue's admin use cases: list jobs (the failed ones with their last error), look at
one with its history, retry a failed one, cancel a waiting one, and a summary for operators.

Retries and cancellations go through procrastinate (its state machine, its notifications to
workers); each is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import procrastinate
import procrastinate.exceptions
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.admin import repository
from pd_prime_demo.admin.models import QueuedJob
from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock, locks
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


async def _locked(session: AsyncSession, job_id: int) -> QueuedJob | None:
    """The job, with the admin actions on it serialised (two retries of one job: the second
    finds it waiting and is refused, rather than racing procrastinate's own check)."""
    await locks.lock(session, f"admin.job:{job_id}")
    return await repository.get(session, job_id)


async def retry_job(
    session: AsyncSession, queue: procrastinate.App, job_id: int, *, actor: Actor
) -> Result[JobView, DomainError]:
    """A failed (dead-lettered) job runs once more, now: the administrator fixed the cause. If
    that attempt fails too, the job is a dead letter again (its retry schedule was spent)."""
    job = await _locked(session, job_id)
    if job is None:
        return Err(NOT_FOUND)
    if job.status != "failed":
        return Err(
            conflict("job.not_failed", f"only a failed job is retried; this one is {job.status}")
        )
    # Audited first: if procrastinate then refuses, the entry rolls back with the request.
    await audit.record(session, actor, "job.retried", "job", str(job_id), {"task": job.task_name})
    try:
        await queue.job_manager.retry_job_by_id_async(job_id, retry_at=clock.now())
    except procrastinate.exceptions.UniqueViolation:
        return Err(
            conflict(
                "job.already_waiting",
                f"another {job.task_name} job already waits to run; this one would repeat it",
            )
        )
    except procrastinate.exceptions.ConnectorException:
        return Err(conflict("job.not_failed", "the job moved on meanwhile; read it again"))
    return await get_job(session, job_id)


async def cancel_job(
    session: AsyncSession, queue: procrastinate.App, job_id: int, *, actor: Actor
) -> Result[JobView, DomainError]:
    """A job still waiting to run (todo) never runs."""
    job = await _locked(session, job_id)
    if job is None:
        return Err(NOT_FOUND)
    refused = conflict(
        "job.not_waiting", f"only a waiting job is cancelled; this one is {job.status}"
    )
    if job.status != "todo":
        return Err(refused)
    await audit.record(session, actor, "job.cancelled", "job", str(job_id), {"task": job.task_name})
    try:
        cancelled = await queue.job_manager.cancel_job_by_id_async(job_id)
    except procrastinate.exceptions.ConnectorException:
        cancelled = False
    return await get_job(session, job_id) if cancelled else Err(refused)


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
