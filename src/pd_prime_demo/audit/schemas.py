"""Audit API models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    occurred_at: datetime
    actor_kind: str
    actor_id: str
    actor_role: str | None
    action: str
    resource_type: str
    resource_id: str
    request_id: str | None
    changes: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[AuditEntryRead]
    next_cursor: str | None


class ChainVerification(BaseModel):
    model_config = ConfigDict(frozen=True)
    ok: bool
    entries_checked: int
    first_bad_id: int | None
    reason: str | None
