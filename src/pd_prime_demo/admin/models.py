"""The job queue's tables as the admin view reads them.

procrastinate owns and migrates these tables (migration 0010 applies its schema), so they are
mapped on a metadata of their own: Alembic's comparison with the platform's models never sees
them, and nothing here writes them (retries and cancellations go through procrastinate).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Enum, MetaData, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JOB_STATUSES = ("todo", "doing", "succeeded", "failed", "cancelled", "aborting", "aborted")
EVENT_TYPES = (
    "deferred",
    "started",
    "deferred_for_retry",  # an attempt failed; the next waits for its delay
    "failed",
    "succeeded",
    "cancelled",
    "abort_requested",
    "aborted",
    "scheduled",
    "retried",  # an administrator retried a failed job
)


class QueueTables(DeclarativeBase):
    metadata = MetaData()
    type_annotation_map = {datetime: DateTime(timezone=True)}  # noqa: RUF012


class QueuedJob(QueueTables):
    __tablename__ = "procrastinate_jobs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    queue_name: Mapped[str] = mapped_column(String(128))
    task_name: Mapped[str] = mapped_column(String(128))
    priority: Mapped[int]
    lock: Mapped[str | None] = mapped_column(Text)
    queueing_lock: Mapped[str | None] = mapped_column(Text)
    args: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(
        Enum(*JOB_STATUSES, name="procrastinate_job_status", create_type=False)
    )
    scheduled_at: Mapped[datetime | None]
    attempts: Mapped[int]
    abort_requested: Mapped[bool]


class QueueEvent(QueueTables):
    """procrastinate's log of each job's moves (deferred, started, failed, retried, ...)."""

    __tablename__ = "procrastinate_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str | None] = mapped_column(
        Enum(*EVENT_TYPES, name="procrastinate_job_event_type", create_type=False)
    )
    at: Mapped[datetime | None]
