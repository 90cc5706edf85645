"""API models of the evidence routes (security reviews)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)


class SecurityReviewCreate(_Model):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "covers_from": "2026-11-23T00:00:00Z",
                    "covers_to": "2026-11-30T00:00:00Z",
                    "outcome": "no_issues",
                    "events_reviewed": 412,
                    "findings": "Failed logins within the usual range; no replayed credential.",
                    "reference": None,
                }
            ]
        },
    )

    covers_from: AwareDatetime
    covers_to: AwareDatetime
    outcome: Literal["no_issues", "issues_found"]
    events_reviewed: int = Field(ge=0, le=2_000_000_000)
    findings: str = Field(min_length=1, max_length=10_000)
    reference: str | None = Field(default=None, min_length=1, max_length=200)


class SecurityReviewRead(_Model):
    id: uuid.UUID
    recorded_at: datetime
    reviewed_by: str
    covers_from: datetime
    covers_to: datetime
    outcome: str
    events_reviewed: int
    findings: str
    reference: str | None


class SecurityReviewPage(_Model):
    items: list[SecurityReviewRead]
    next_cursor: str | None
