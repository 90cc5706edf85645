"""Legal holds, erasure records and retention runs.

A hold is never deleted: releasing it is a new fact on the same row, so the history of what
was preserved for which matter survives (FRCP 37(e) asks a carrier to show it). An erasure
record is the proof that a request was honoured (GDPR Art. 5(2) accountability): ids and
counts, no personal values. A retention run remembers where it stopped, so a crashed run
resumes instead of starting over.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import Category, not_personal, personal

HOLD_SCOPES = ("customer", "policy", "claim")


class LegalHold(Base):
    __tablename__ = "privacy_legal_holds"
    __table_args__ = (
        CheckConstraint(
            "scope IN (" + ", ".join(f"'{s}'" for s in HOLD_SCOPES) + ")", name="scope_known"
        ),
        CheckConstraint("(released_at IS NULL) = (released_by IS NULL)", name="released_has_who"),
        # "Is this person under a hold?": every erasure and every retention chunk asks.
        Index(
            "ix_privacy_legal_holds_active_customer",
            "customer_id",
            postgresql_where="released_at IS NULL",
        ),
        Index("ix_privacy_legal_holds_placed_at_id", "placed_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    scope: Mapped[str] = mapped_column(String(10))
    # The customer, policy or claim held.
    subject_id: Mapped[uuid.UUID] = mapped_column(info=not_personal("a record id"))
    # Whose records the hold preserves (the policy's or claim's customer).
    customer_id: Mapped[uuid.UUID] = mapped_column(info=not_personal("a record id"))
    # Counsel's words: may name people in the matter.
    reason: Mapped[str] = mapped_column(Text, info=personal(Category.FREE_TEXT, subject="other"))
    matter_reference: Mapped[str] = mapped_column(String(100))
    placed_at: Mapped[datetime]
    placed_by: Mapped[str] = mapped_column(String(100), info=not_personal("an actor id"))
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(100), info=not_personal("an actor id"))
    release_note: Mapped[str | None] = mapped_column(
        Text, info=personal(Category.FREE_TEXT, subject="other")
    )


class ErasureRecord(Base):
    """One erasure carried out: by a request, or by the retention schedule."""

    __tablename__ = "privacy_erasures"
    __table_args__ = (
        # "Was this person erased already?": retention skips them, nothing is purged twice.
        Index("ix_privacy_erasures_customer_id", "customer_id", unique=True),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(info=not_personal("a record id"))
    request_id: Mapped[uuid.UUID | None] = mapped_column(info=not_personal("a request id"))
    # "request" (a data subject request) or "retention" (the schedule).
    origin: Mapped[str] = mapped_column(String(12))
    # The report: dispositions, record ids and counts, legal bases; never a personal value.
    report: Mapped[dict[str, Any]] = mapped_column(
        info=not_personal("dispositions, record ids, counts and legal bases; no value")
    )
    erased_at: Mapped[datetime]
    erased_by: Mapped[str] = mapped_column(String(100), info=not_personal("an actor id"))


class RetentionRun(Base):
    """One run of the retention schedule: where it is, and what it purged so far."""

    __tablename__ = "privacy_retention_runs"
    __table_args__ = (Index("ix_privacy_retention_runs_started_at", "started_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    started_by: Mapped[str] = mapped_column(String(100), info=not_personal("an actor id"))
    # Per retention class: {"cursor": <last id done>, "purged": n, "held": n, "done": bool}.
    progress: Mapped[dict[str, Any]] = mapped_column(
        info=not_personal("a cursor (a customer id) and counts")
    )
    chunks: Mapped[int] = mapped_column(default=0)
