"""Identity API models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from pd_prime_demo.core.actor import Permission, Role


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)


class StaffUserCreate(_Model):
    email: EmailStr
    full_name: str = Field(min_length=1, max_length=200)
    role: Literal[Role.AGENT, Role.UNDERWRITER, Role.ADJUSTER, Role.ADMIN] = Field(
        description="Staff role; customers register themselves through /registrations."
    )
    password: str = Field(min_length=1, max_length=256, json_schema_extra={"writeOnly": True})
    underwriting_authority: int | None = Field(
        default=None, ge=1, le=5, description="Referral authority (underwriters; default 1)."
    )

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "example": {
                "email": "ada.agent@example.com",
                "full_name": "Ada Agent",
                "role": "agent",
                "password": "correct horse battery staple",
            }
        },
    )


class UserRead(_Model):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    is_active: bool
    underwriting_authority: int | None
    created_at: datetime
    last_login_at: datetime | None


class MeRead(UserRead):
    permissions: list[Permission]


class UserPage(_Model):
    items: list[UserRead]
    next_cursor: str | None


class TokenResponse(_Model):
    """OAuth 2.0 token response (RFC 6749 section 5.1)."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int
    refresh_token: str
    scope: str = ""


class JwksRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    keys: list[dict[str, str]]
