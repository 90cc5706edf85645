"""API models of API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from pd_prime_demo.core.actor import Permission


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)


class ApiKeyCreate(_Model):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Permission] = Field(
        min_length=1,
        max_length=len(Permission),
        description="Permissions the key grants; your role must hold each.",
    )
    ttl_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Days until the key expires (default and maximum set by the platform).",
    )

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "example": {
                "name": "Nightly book export",
                "scopes": ["policies:read", "customers:read"],
                "ttl_days": 90,
            }
        },
    )


class ApiKeyRotate(_Model):
    overlap_hours: int | None = Field(
        default=None,
        ge=0,
        le=720,
        description="How long the old key keeps working (at most the platform's overlap).",
    )


class ApiKeyRead(_Model):
    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it; no secret.")
    owner_id: uuid.UUID
    scopes: list[Permission]
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None = Field(description="To the minute.")
    revoked_at: datetime | None
    replaced_by_id: uuid.UUID | None = Field(description="The key that rotated this one out.")


class ApiKeyIssued(ApiKeyRead):
    key: str = Field(
        description="Shown only in this response: send it as `Authorization: Bearer <key>`; "
        "only a digest of it is kept."
    )


class ApiKeyRotated(ApiKeyIssued):
    previous: ApiKeyRead = Field(description="The old key, working until its expires_at.")


class ApiKeyPage(_Model):
    items: list[ApiKeyRead]
    next_cursor: str | None
