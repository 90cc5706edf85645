"""Rendered documents (declarations pages, invoices), stored with a content hash."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        # A policy's documents, a page at a time; and "has this record its page yet?".
        Index("ix_documents_policy_id_created_at", "policy_id", "created_at", "id"),
        Index("ix_documents_kind_source_id", "kind", "source_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    kind: Mapped[str] = mapped_column(String(20))
    source_id: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(50))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
