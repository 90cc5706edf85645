"""API keys for simple integrations: a user's long-lived bearer credential.

Like refresh tokens and client secrets, a key is high-entropy and stored only as a SHA-256
digest; ``prefix`` (the first characters, no secret) is kept so that its owner can tell keys
apart in a listing and in a leaked-secret scanner's report. A key works within its owner's
reach, narrowed to its scopes, and only while it is unrevoked, unexpired and its owner active.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import not_personal


class ApiKey(Base):
    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_owner_id_id", "owner_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(
        String(100), info=not_personal("a label the owner gives the key")
    )
    prefix: Mapped[str] = mapped_column(String(24))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # Written at most once a minute per key (see api_keys.touch): a hint, not an access log.
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Rotation: the key that replaced this one; this one works until its (shortened) expiry.
    replaced_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("api_keys.id"))
