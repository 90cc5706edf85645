"""API models of legal holds and the retention schedule (``router_fulfilment``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)


HoldScope = Literal["customer", "policy", "claim"]


class HoldCreate(_Model):
    scope: HoldScope = Field(description="What is held: a customer, a policy or a claim.")
    subject_id: uuid.UUID = Field(description="The customer's, policy's or claim's id.")
    reason: str = Field(min_length=1, max_length=4000, description="Counsel's reason.")
    matter_reference: str = Field(
        min_length=1, max_length=100, description="The litigation matter or docket reference."
    )

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "example": {
                "scope": "claim",
                "subject_id": "0b6c1f5e-8a51-4c0e-9a8e-6f1f8c2d9e41",
                "reason": "Suit filed by the claimant; preserve the claim file.",
                "matter_reference": "LIT-2026-014",
            }
        },
    )


class HoldRelease(_Model):
    note: str | None = Field(default=None, max_length=4000, description="Why it is released.")


class HoldRead(_Model):
    id: uuid.UUID
    scope: HoldScope
    subject_id: uuid.UUID
    customer_id: uuid.UUID = Field(description="Whose records the hold preserves.")
    reason: str
    matter_reference: str
    placed_at: datetime
    placed_by: str
    released_at: datetime | None
    released_by: str | None
    release_note: str | None
    active: bool


class HoldPage(_Model):
    items: list[HoldRead]
    next_cursor: str | None


class RetentionPeriodRead(_Model):
    record_class: str
    years: int
    action: str = Field(description="erase or pseudonymise")
    basis: str
    due_before: str = Field(description="Records whose clock ended before this date are due.")


class RetentionScheduleRead(_Model):
    periods: list[RetentionPeriodRead]
    cron: str = Field(description="When the job runs (cron, UTC).")
    chunk: int = Field(description="Customers examined per transaction.")


class RetentionRunRead(_Model):
    id: uuid.UUID
    started_at: datetime
    finished_at: datetime | None
    started_by: str
    chunks: int
    progress: dict[str, Any] = Field(
        description="cursor, examined, quotes_deleted, erased, pseudonymised, held, done"
    )


class RetentionRunPage(_Model):
    items: list[RetentionRunRead]
    next_cursor: str | None
