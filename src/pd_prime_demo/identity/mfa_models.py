"""TOTP and WebAuthn credentials, recovery codes, password-reset and e-mail verification tokens,
and the outgoing mail a job sends after commit."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import Category, personal


class TotpCredential(Base):
    """A user's TOTP secret (RFC 6238), encrypted with the field cipher. ``last_step`` is the
    time step of the last code accepted: a code of that step or earlier is refused (replay)."""

    __tablename__ = "totp_credentials"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    secret_enc: Mapped[str] = mapped_column(
        Text, info=personal(Category.CREDENTIALS, subject="user")
    )
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(Base):
    """A one-time recovery code, stored as a SHA-256 digest (the code has 80 random bits)."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_codes_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebauthnCredential(Base):
    """A passkey: its credential id, COSE public key and signature counter."""

    __tablename__ = "webauthn_credentials"
    __table_args__ = (Index("ix_webauthn_credentials_user_id", "user_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    credential_id: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(
        String(100),
        info=personal(
            Category.ONLINE_IDENTIFIER, subject="user", note="the device label the user chose"
        ),
    )
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]


class EmailToken(Base):
    """A single-use link token sent by e-mail, stored only as its SHA-256 digest: an address
    to verify, a password reset, or a new address (``new_email_enc``, field-encrypted)."""

    __tablename__ = "email_tokens"
    __table_args__ = (
        CheckConstraint("purpose IN ('verify', 'reset', 'email_change')", name="purpose_known"),
        Index("ix_email_tokens_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    new_email_enc: Mapped[str | None] = mapped_column(
        Text, info=personal(Category.CONTACT, subject="user")
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class MailMessage(Base):
    """A message written in the transaction that causes it and sent by a job after commit. The
    recipient and body (which may hold a link token) are field-encrypted, and the body is
    erased once sent."""

    __tablename__ = "mail_messages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    to_enc: Mapped[str] = mapped_column(Text, info=personal(Category.CONTACT, subject="user"))
    subject: Mapped[str] = mapped_column(String(200))
    body_enc: Mapped[str | None] = mapped_column(
        Text,
        info=personal(
            Category.CONTACT, Category.FREE_TEXT, subject="user", note="erased once sent"
        ),
    )
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
