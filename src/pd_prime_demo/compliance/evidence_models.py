"""Evidence that nothing recorded before the SOC 2 controls: the reviews of security events.

Security events (``core.security_events``) are log lines and metric counters, not rows: the
review an administrator records here is what an auditor samples for CC7.3 (AICPA TSC CC7.3:
"evaluates security events"). Append-only: a review that was wrong is followed by another.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import Category, not_personal, personal

REVIEW_OUTCOMES = ("no_issues", "issues_found")


class SecurityReview(Base):
    """An administrator's review of the security events of ``covers_from``..``covers_to``."""

    __tablename__ = "security_reviews"
    __table_args__ = (
        CheckConstraint("covers_from < covers_to", name="period_ordered"),
        CheckConstraint(
            "outcome IN (" + ", ".join(f"'{o}'" for o in REVIEW_OUTCOMES) + ")",
            name="outcome_known",
        ),
        # The control reads the latest review; the list pages newest first.
        Index("ix_security_reviews_covers_to_id", "covers_to", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    recorded_at: Mapped[datetime]
    # The reviewer as the audit log names actors (its actor_id): an id, never a name.
    reviewed_by: Mapped[str] = mapped_column(
        String(100), info=not_personal("an actor id, as the audit log holds it")
    )
    covers_from: Mapped[datetime]
    covers_to: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(16))
    # How many events the reviewer looked at (from the logs or the metrics' counters).
    events_reviewed: Mapped[int]
    # What was found and done; free text a reviewer writes, so it may name people.
    findings: Mapped[str] = mapped_column(
        Text, info=personal(Category.FREE_TEXT, subject="user", note="a reviewer's findings")
    )
    # A ticket or incident the findings were followed up in, if any.
    reference: Mapped[str | None] = mapped_column(
        String(200), info=not_personal("a ticket or incident number")
    )
