"""Documents (declarations pages, invoices): the row exists from the business transaction on,
with the facts it prints; a job renders it after commit and stores the PDF with its hash."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import Category, not_personal, personal


class DocumentStatus(enum.StrEnum):
    PENDING = "pending"  # recorded; its page is drawn by a job after the transaction commits
    READY = "ready"
    FAILED = "failed"  # every attempt failed: shown to staff, retried from the jobs view


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        # A policy's documents, a page at a time; and "has this record its page yet?".
        Index("ix_documents_policy_id_created_at", "policy_id", "created_at", "id"),
        Index("ix_documents_kind_source_id", "kind", "source_id"),
        Index(
            "ix_documents_status_created_at",
            "status",
            "created_at",
            postgresql_where="status <> 'ready'",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    kind: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(
        String(200), info=not_personal("made of the document's kind and number")
    )
    media_type: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(10), server_default=DocumentStatus.READY.value)
    # What the page prints, fixed when the record was made (ids and amounts, never PII: the
    # insured's name and address are read when the page is drawn).
    facts: Mapped[dict[str, Any] | None] = mapped_column(
        info=personal(
            Category.IDENTITY,
            Category.VEHICLE,
            subject="driver",
            note="the schedule a page prints: drivers' names, vehicles' VINs (not the insured's)",
        )
    )
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # The template it was drawn from: "<kind>/<version>@<SHA-256 prefix of the file>" (null
    # for documents drawn before templates existed).
    template_version: Mapped[str | None] = mapped_column(
        String(120), info=not_personal("which template drew the page")
    )
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    rendered_at: Mapped[datetime | None]
