"""The OAuth 2.1 / OpenID Connect provider's authorization codes and token log, and the
external identities staff sign in with (single sign-on, the relying party side)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base

TOKEN_EVENTS = ("issued", "refreshed", "revoked", "reuse_detected", "code_replayed")
GRANTS = ("authorization_code", "refresh_token", "client_credentials")


class AuthorizationCode(Base):
    """One authorization code (RFC 6749 §4.1.2), stored only as a SHA-256 digest.

    Redeemed once, under a row lock: ``used_at`` marks the redemption and ``session_id`` the
    authorization (login session) it created, which a second redemption revokes.
    """

    __tablename__ = "oauth_authorization_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scope: Mapped[str] = mapped_column(String(1000))
    nonce: Mapped[str | None] = mapped_column(String(255))
    code_challenge: Mapped[str] = mapped_column(String(128))  # S256 only (RFC 7636 §4.2)
    auth_time: Mapped[datetime]
    amr: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    session_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("auth_sessions.id"))


class TokenLogEntry(Base):
    """Append-only: every token issued, refreshed or revoked, and every replay detected, with
    who and how. Never a token value (nor its digest)."""

    __tablename__ = "oauth_token_log"
    __table_args__ = (
        CheckConstraint(
            "event IN (" + ", ".join(f"'{e}'" for e in TOKEN_EVENTS) + ")", name="event_known"
        ),
        CheckConstraint(
            "grant_type IS NULL OR grant_type IN (" + ", ".join(f"'{g}'" for g in GRANTS) + ")",
            name="grant_known",
        ),
        Index("ix_oauth_token_log_client_id_at", "client_id", "at"),
        Index("ix_oauth_token_log_user_id_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    at: Mapped[datetime]
    event: Mapped[str] = mapped_column(String(16))
    grant_type: Mapped[str | None] = mapped_column(String(32))
    client_id: Mapped[uuid.UUID | None]
    user_id: Mapped[uuid.UUID | None]
    session_id: Mapped[uuid.UUID | None]
    reason: Mapped[str | None] = mapped_column(String(64))


class ExternalIdentity(Base):
    """A staff account's identity at an external OpenID Connect provider: its issuer and the
    subject (``sub``) the provider gives it. Single sign-on finds the account by these, never
    by e-mail again (identity.sso); one subject per issuer per account, one account per
    subject."""

    __tablename__ = "user_external_identities"
    __table_args__ = (
        UniqueConstraint("issuer", "subject", name="uq_user_external_identities_issuer_subject"),
        UniqueConstraint("user_id", "issuer", name="uq_user_external_identities_user_id_issuer"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    issuer: Mapped[str] = mapped_column(String(1000))
    subject: Mapped[str] = mapped_column(String(255))  # OIDC Core §2: at most 255 ASCII
    created_at: Mapped[datetime]
    last_sign_in_at: Mapped[datetime | None]
