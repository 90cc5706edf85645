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
    refresh_token: str | None = Field(
        default=None, description="Absent for the client credentials grant (RFC 6749 §4.4.3)."
    )
    scope: str = ""


class ApiClientCreate(_Model):
    name: str = Field(min_length=1, max_length=100)
    owner_id: uuid.UUID = Field(
        description="The staff user whose reach the client works within (an agent's book)."
    )
    scopes: list[Permission] = Field(
        min_length=1,
        max_length=len(Permission),
        description="Permissions of the client's tokens; its owner's role must hold each.",
    )

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "example": {
                "name": "Comparative rater",
                "owner_id": "5f0c8a1e-2b7d-4c39-9e61-0a4b3c2d1e0f",
                "scopes": ["products:read", "customers:read", "quotes:read", "quotes:write"],
            }
        },
    )


class ApiClientRead(_Model):
    id: uuid.UUID = Field(description="Also the client_id of the token endpoint.")
    name: str
    owner_id: uuid.UUID
    scopes: list[Permission]
    created_at: datetime
    revoked_at: datetime | None


class ApiClientRegistered(ApiClientRead):
    client_secret: str = Field(
        description="Shown only in this response: only a digest of it is kept."
    )


class ApiClientPage(_Model):
    items: list[ApiClientRead]
    next_cursor: str | None


class JwksRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    keys: list[dict[str, str]]
