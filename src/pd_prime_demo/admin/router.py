"""Administrators' view of the job queue: failed jobs with their error, retry, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from pd_prime_demo.admin import service
from pd_prime_demo.admin.schemas import (
    JobEventRead,
    JobPage,
    JobRead,
    JobStatus,
    QueueSummaryRead,
    TaskCounts,
)
from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.identity.dependencies import require

router = APIRouter(prefix=f"{API_V1}/admin/jobs", tags=["admin"])

JobAdmin = Annotated[Actor, Depends(require(Permission.JOBS_MANAGE))]
JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _read(view: service.JobView, *, with_history: bool = False) -> JobRead:
    job, error = view.job, view.error
    return JobRead(
        id=job.id,
        task=job.task_name,
        queue=job.queue_name,
        status=job.status,
        attempts=job.attempts,
        scheduled_at=job.scheduled_at,
        args=job.args,
        error=error.error if error is not None else None,
        failed_at=error.failed_at if error is not None else None,
        history=[JobEventRead(type=kind, at=at) for kind, at in view.history]
        if with_history
        else None,
    )


@router.get(
    "",
    response_model=JobPage,
    responses=problem_responses(401, 403, 422),
    summary="Jobs, newest first: status=failed lists the dead letters with their last error",
)
async def list_jobs(
    session: Session,
    _: JobAdmin,
    status: JobStatus | None = None,
    task: Annotated[str | None, Query(max_length=128)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> JobPage:
    views, next_cursor = handle_result(
        await service.list_jobs(session, status=status, task=task, cursor=cursor, limit=limit)
    )
    return JobPage(items=[_read(v) for v in views], next_cursor=next_cursor)


@router.get(
    "/summary",
    response_model=QueueSummaryRead,
    responses=problem_responses(401, 403),
    summary="Jobs waiting, running and failed per task, and the oldest wait",
)
async def queue_summary(session: Session, _: JobAdmin) -> QueueSummaryRead:
    found = await service.summary(session)
    tasks: dict[str, dict[str, int]] = {}
    for task, status, count in found.counts:
        tasks.setdefault(task, {})[status] = count
    oldest = found.oldest_waiting_since
    return QueueSummaryRead(
        tasks=[TaskCounts(task=task, **counts) for task, counts in tasks.items()],
        oldest_waiting_seconds=(clock.now() - oldest).total_seconds() if oldest else None,
    )


@router.get(
    "/{job_id}",
    response_model=JobRead,
    responses=problem_responses(401, 403, 404, 422),
    summary="One job with its history",
)
async def get_job(job_id: JobId, session: Session, _: JobAdmin) -> JobRead:
    return _read(handle_result(await service.get_job(session, job_id)), with_history=True)


@router.post(
    "/{job_id}/retry",
    response_model=JobRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Run a failed job again now (409 unless it failed)",
)
async def retry_job(
    job_id: JobId, runtime: RuntimeDep, session: Session, actor: JobAdmin
) -> JobRead:
    queue = await runtime.queue.ready()
    return _read(
        handle_result(await service.retry_job(session, queue, job_id, actor=actor)),
        with_history=True,
    )


@router.post(
    "/{job_id}/cancellation",
    response_model=JobRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Cancel a job that waits to run (409 unless it waits)",
)
async def cancel_job(
    job_id: JobId, runtime: RuntimeDep, session: Session, actor: JobAdmin
) -> JobRead:
    queue = await runtime.queue.ready()
    return _read(
        handle_result(await service.cancel_job(session, queue, job_id, actor=actor)),
        with_history=True,
    )
