"""Users, login sessions and their rotating refresh tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, CheckConstraint, ForeignKey, Index, String, false, func
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import Category, not_personal, personal

_ROLES = ", ".join(f"'{r.value}'" for r in Role)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({_ROLES})", name="role_known"),
        # GET /users pages on (created_at, id) (migration 0029).
        Index("ix_users_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(
        String(320), unique=True, info=personal(Category.CONTACT, subject="user")
    )
    password_hash: Mapped[str] = mapped_column(
        String(255),
        info=personal(
            Category.CREDENTIALS, subject="user", note="argon2id hash, never the password"
        ),
    )
    role: Mapped[str] = mapped_column(String(32))
    full_name: Mapped[str] = mapped_column(
        String(200), info=personal(Category.IDENTITY, subject="user")
    )
    is_active: Mapped[bool] = mapped_column(default=True)
    # A demo account (seeded with a published password): signs in only in demo mode.
    is_demo: Mapped[bool] = mapped_column(default=False, server_default=false())
    underwriting_authority: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_login_at: Mapped[datetime | None]
    # None until the address is verified: a self-registered login works only after that.
    email_verified_at: Mapped[datetime | None]


class AuthSession(Base):
    """One login: access tokens name it in ``sid`` so that logout takes effect at once."""

    __tablename__ = "auth_sessions"
    # A user's sessions newest first, a page at a time; any lookup by user (migration 0029).
    __table_args__ = (Index("ix_auth_sessions_user_created", "user_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(64))
    # An OAuth authorization is a login session too: the client it was granted to and the
    # scopes the user consented to (both None for a password login). Its access tokens hold
    # only those scopes' permissions, and its refresh tokens rotate like any other.
    client_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_clients.id"))
    scope: Mapped[str | None] = mapped_column(String(1000))
    # How the login was made (password, mfa), and when its tokens were last refreshed.
    method: Mapped[str] = mapped_column(String(32), server_default="password")
    last_active_at: Mapped[datetime | None]


class RefreshToken(Base):
    """Stored only as a SHA-256 digest; each use consumes it and issues the next."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_session_id", "session_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class ApiClient(Base):
    """A machine client (OAuth 2.0 client credentials) that works within its owner's reach.

    Its access tokens carry the owner's visibility (an agent's book, a company-wide role),
    narrowed to the client's scopes. The secret is high-entropy and stored only as a SHA-256
    digest, like refresh tokens; revoking the client, or deactivating its owner, ends its
    tokens at once (every request checks).
    """

    __tablename__ = "api_clients"
    __table_args__ = (
        CheckConstraint("client_type IN ('confidential', 'public')", name="client_type_known"),
        # A public client (a browser or mobile app) holds no secret; a confidential one does.
        CheckConstraint(
            "(client_type = 'public') = (secret_hash IS NULL)", name="secret_iff_confidential"
        ),
        CheckConstraint(
            "id_token_signed_response_alg IN ('RS256', 'ES256')", name="id_token_alg_known"
        ),
        # GET /api-clients pages on (created_at, id) (migration 0029).
        Index("ix_api_clients_created_at_id", "created_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), info=not_personal("a machine client's label"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    secret_hash: Mapped[str | None] = mapped_column(
        String(64), info=not_personal("SHA-256 of a machine client's secret")
    )
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]
    # OAuth 2.1 registration metadata (RFC 7591 §2 names): redirect URIs are compared exactly.
    client_type: Mapped[str] = mapped_column(String(16), server_default="confidential")
    redirect_uris: Mapped[list[str]] = mapped_column(ARRAY(String(2000)), server_default="{}")
    grant_types: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), server_default="{client_credentials}"
    )
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(32), server_default="client_secret_basic"
    )
    # How its ID tokens are signed (OIDC Dynamic Client Registration §2). Clients registered
    # before RS256 existed keep ES256, what their relying parties were built against.
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(8), server_default="ES256")
