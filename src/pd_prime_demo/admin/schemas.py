"""The admin view of the job queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JobStatus = Literal["todo", "doing", "succeeded", "failed", "cancelled", "aborted"]


class JobEventRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: str | None
    at: datetime | None


class JobRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: int
    task: str = Field(examples=["documents:render"])
    queue: str
    status: str = Field(
        description="todo (waiting or scheduled for a retry), doing, succeeded, failed (every "
        "retry spent: a dead letter), cancelled, aborted"
    )
    attempts: int
    scheduled_at: datetime | None = Field(description="When a waiting job may run next")
    args: dict[str, Any] = Field(description="The job's arguments: ids, never personal data")
    error: str | None = Field(description="The last failed attempt's error")
    failed_at: datetime | None
    history: list[JobEventRead] | None = Field(
        default=None, description="Each move of the job (one job's view only)"
    )


class JobPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[JobRead]
    next_cursor: str | None = None


class TaskCounts(BaseModel):
    model_config = ConfigDict(frozen=True)
    task: str
    todo: int = 0
    doing: int = 0
    failed: int = 0


class QueueSummaryRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    tasks: list[TaskCounts]
    oldest_waiting_seconds: float | None = Field(
        description="How long the longest-waiting due job has waited (None: none waits)"
    )
