"""Identity API models."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from pd_prime_demo.core.actor import Permission, Role
from pd_prime_demo.identity.oauth_rules import (
    AuthMethod,
    ClientType,
    GrantType,
    IdTokenAlg,
    OidcScope,
)


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
    scopes: list[Permission | OidcScope] = Field(
        min_length=1,
        max_length=len(Permission) + len(OidcScope),
        description=(
            "Permissions of the client's tokens (its owner's role must hold each) and, for the "
            "authorization code grant, the OpenID Connect scopes it may ask users for."
        ),
    )
    client_type: ClientType = Field(
        default=ClientType.CONFIDENTIAL,
        description="public: a browser or native app, with no secret (PKCE protects its codes).",
    )
    redirect_uris: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="Exact redirect URIs of the authorization code grant (https, or loopback).",
    )
    grant_types: list[GrantType] = Field(
        default_factory=lambda: [GrantType.CLIENT_CREDENTIALS], min_length=1, max_length=3
    )
    token_endpoint_auth_method: AuthMethod | None = Field(
        default=None,
        description="none for public clients; client_secret_basic (default) or _post otherwise.",
    )
    id_token_signed_response_alg: IdTokenAlg | None = Field(
        default=None,
        description=(
            "How its ID tokens are signed: RS256 (OpenID Connect's default, and this one's when "
            "the provider has an RSA key; see id_token_signing_alg_values_supported) or ES256."
        ),
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
    scopes: list[str]
    client_type: ClientType
    redirect_uris: list[str]
    grant_types: list[GrantType]
    token_endpoint_auth_method: AuthMethod
    id_token_signed_response_alg: IdTokenAlg
    created_at: datetime
    revoked_at: datetime | None


class ApiClientRegistered(ApiClientRead):
    client_secret: str | None = Field(
        description="Shown only in this response: only a digest of it is kept (public: null)."
    )


class OAuthTokenResponse(_Model):
    """OAuth 2.0 token response (RFC 6749 §5.1), with OpenID Connect's id_token."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105
    expires_in: int
    refresh_token: str | None = None
    scope: str
    id_token: str | None = None


class IntrospectionRead(_Model):
    """RFC 7662 §2.2."""

    active: bool
    token_type: str | None = None
    client_id: str | None = None
    scope: str | None = None
    sub: str | None = None
    iss: str | None = None
    aud: str | None = None
    iat: int | None = None
    exp: int | None = None
    jti: str | None = None


class UserInfoRead(BaseModel):
    """OpenID Connect Core §5.3.2: ``sub`` and the claims the token's scopes release."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sub: str
    name: str | None = None
    updated_at: int | None = None
    email: str | None = None
    email_verified: bool | None = None
    roles: list[str] | None = None


class ProviderMetadataRead(BaseModel):
    """RFC 8414 §2 / OpenID Connect Discovery §3 metadata (more members may follow)."""

    model_config = ConfigDict(frozen=True, extra="allow")
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


class ApiClientPage(_Model):
    items: list[ApiClientRead]
    next_cursor: str | None


class JwksRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    keys: list[dict[str, str]]
