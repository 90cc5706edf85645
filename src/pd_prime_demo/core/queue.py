"""The job queue: procrastinate on the platform's own PostgreSQL.

A laptop needs nothing beyond the database it already runs, and a carrier scales out by running
more ``pd-prime worker`` processes on more machines: workers take jobs with ``FOR UPDATE SKIP
LOCKED``, wake on ``LISTEN/NOTIFY``, send heartbeats (a job of a worker that died is found and
retried), and defer each periodic job once per period whatever their number.

A job's life: ``todo`` -> ``doing`` -> ``succeeded``; a failed attempt is retried on the task's
:class:`Backoff` schedule, and once the schedule is spent the job stays ``failed``: the dead
letters, each with its last error in ``job_errors`` (written by :func:`record_errors`), which an
administrator lists, retries or cancels through the API.

Domains define their tasks on a :class:`procrastinate.Blueprint` in their ``jobs`` module; the
worker wiring (``pd_prime_demo.worker``) adds them to the app. Code that only defers by name or
manages jobs (the relay, the admin API) uses the app without them.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import procrastinate
from procrastinate.job_context import JobContext
from procrastinate.middleware import AsyncCallNext
from procrastinate.retry import BaseRetryStrategy, RetryDecision
from procrastinate.worker import Worker
from sqlalchemy import BigInteger, Integer, String, Text, make_url
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import not_personal


class JobError(Base):
    """The last error of a job's failed attempt (kept for as long as the job is)."""

    __tablename__ = "job_errors"

    job_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    task_name: Mapped[str] = mapped_column(
        String(200), info=not_personal("the name of a queue task")
    )
    attempts: Mapped[int] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text)
    failed_at: Mapped[datetime]


def conninfo(database_url: str) -> str:
    """The libpq connection string of a SQLAlchemy URL (psycopg speaks libpq's, not
    SQLAlchemy's ``+asyncpg`` form; an embedded server's socket stays in ``?host=``)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True, slots=True)
class Backoff(BaseRetryStrategy):
    """Retry after each delay of ``schedule`` in turn (seconds), then give up: the job fails
    for good. ``attempts`` counts the attempts made, so ``schedule[0]`` follows the first."""

    schedule: Sequence[int]

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1

    def get_retry_decision(
        self, *, exception: BaseException, job: procrastinate.jobs.Job
    ) -> RetryDecision | None:
        if job.attempts >= len(self.schedule):
            return None
        return RetryDecision(retry_in={"seconds": self.schedule[job.attempts]})

    def is_last_attempt(self, attempts: int) -> bool:
        """Whether the attempt after ``attempts`` earlier ones is the last one allowed."""
        return attempts >= len(self.schedule)


# Business jobs (documents, sweeps): quick retries, then about an hour and three quarters in all.
STANDARD = Backoff((5, 30, 120, 600, 1800, 3600))


async def record_errors(call_next: AsyncCallNext, context: JobContext, worker: Worker) -> Any:
    """Worker middleware: keep the error of a failed attempt beside the job."""
    try:
        return await call_next()
    except Exception as exc:
        job = context.job
        message = "".join(traceback.format_exception_only(exc)).strip()[:4000]
        await context.app.connector.execute_query_async(
            "INSERT INTO job_errors (job_id, task_name, attempts, error, failed_at) "
            "VALUES (%(job_id)s, %(task)s, %(attempts)s, %(error)s, now()) "
            "ON CONFLICT (job_id) DO UPDATE SET attempts = EXCLUDED.attempts, "
            "error = EXCLUDED.error, failed_at = EXCLUDED.failed_at",
            job_id=job.id,
            task=job.task_name,
            attempts=job.attempts + 1,
            error=message,
        )
        raise


def create_queue(database_url: str, *, pool_max: int = 4) -> procrastinate.App:
    """The app on ``database_url``'s database; its pool opens on first use (``open_async``)."""
    connector = procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url), min_size=1, max_size=pool_max
    )
    return procrastinate.App(
        connector=connector,
        # A periodic job missed while no worker ran (downtime) is deferred when one starts, if
        # it fell due within this many seconds; every periodic job is a sweep that catches up
        # on all the days it missed, so one late run does the work of them all.
        periodic_defaults={"max_delay": 8 * 24 * 3600},
    )


class JobQueue:
    """The process's queue app, its connection pool opened on first use (most requests never
    touch the queue) and closed with the process."""

    def __init__(self, database_url: str) -> None:
        self.app = create_queue(database_url)
        self._opened = False
        self._opening = asyncio.Lock()

    async def ready(self) -> procrastinate.App:
        if not self._opened:
            async with self._opening:
                if not self._opened:
                    await self.app.open_async()
                    self._opened = True
        return self.app

    async def close(self) -> None:
        if self._opened:
            await self.app.close_async()
            self._opened = False


def add_blueprint(
    app: procrastinate.App, blueprint: procrastinate.Blueprint, namespace: str
) -> None:
    """Register ``blueprint``'s tasks (and periodic tasks) on ``app`` as ``namespace:name``.

    procrastinate's own ``add_tasks_from`` moves the tasks into the app, renaming them in the
    blueprint, so a blueprint serves one app per process; a process here may hold several
    (the server's and a worker's, or one per test database), so the tasks are copied instead.
    """
    copies: dict[str, procrastinate.tasks.Task[Any, Any, Any]] = {}
    for task in blueprint.tasks.values():
        copies[task.name] = app.task(  # type: ignore[call-overload]
            name=f"{namespace}:{task.name}",
            retry=task.retry_strategy or False,
            pass_context=task.pass_context,
            queue=task.queue,
            priority=task.priority,
            lock=task.lock,
            queueing_lock=task.queueing_lock,
        )(task.func)
    for periodic in blueprint.periodic_registry.periodic_tasks.values():
        app.periodic(cron=periodic.cron, periodic_id=periodic.periodic_id)(
            copies[periodic.task.name]
        )
