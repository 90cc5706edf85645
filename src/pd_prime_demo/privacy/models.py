"""The privacy domain's tables: the consent ledger and data subject requests.

``consent_records`` and ``privacy_request_events`` are append-only (a trigger refuses UPDATE and
DELETE, migration 0025): the ledger is the proof of consent GDPR Art. 7(1) asks the controller
to be able to show, and the history is the proof that a request was answered in time.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import Category, not_personal, personal
from pd_prime_demo.privacy.enums import Channel, Purpose, Regime, RequestKind, RequestStatus, Source


def _one_of(
    column: str, values: type[Purpose | Source | RequestKind | Regime | RequestStatus | Channel]
) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class PrivacyNotice(Base):
    """A version of the privacy notice a consent was given under (Art. 7(2), Art. 13)."""

    __tablename__ = "privacy_notices"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    published_at: Mapped[datetime]
    # SHA-256 of the notice's text as published: the version names exactly what was read.
    text_sha256: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(500))


class ConsentRecord(Base):
    """One grant or withdrawal of one purpose by one person; the current state of a purpose is
    the latest record (no record: never given, so not consented)."""

    __tablename__ = "consent_records"
    __table_args__ = (
        CheckConstraint(_one_of("purpose", Purpose), name="purpose_known"),
        CheckConstraint(_one_of("source", Source), name="source_known"),
        CheckConstraint("NOT granted OR notice_version IS NOT NULL", name="grant_has_notice"),
        Index("ix_consent_records_customer_purpose", "customer_id", "purpose", "recorded_at", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    purpose: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool]
    # The notice a grant was given under (Art. 7(2), 13); a withdrawal needs none (Art. 7(3)).
    notice_version: Mapped[str | None] = mapped_column(ForeignKey("privacy_notices.version"))
    source: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("privacy_requests.id"))
    recorded_at: Mapped[datetime]


class PrivacyRequest(Base):
    """A data subject request; its status changes are in ``privacy_request_events``."""

    __tablename__ = "privacy_requests"
    __table_args__ = (
        CheckConstraint(_one_of("kind", RequestKind), name="kind_known"),
        CheckConstraint(_one_of("regime", Regime), name="regime_known"),
        CheckConstraint(_one_of("status", RequestStatus), name="status_known"),
        CheckConstraint(_one_of("channel", Channel), name="channel_known"),
        CheckConstraint(
            "(status = 'rejected') = (rejection_reason IS NOT NULL)", name="rejected_has_reason"
        ),
        CheckConstraint(
            "(extended_due_on IS NULL) = (extension_reason IS NULL)", name="extension_has_reason"
        ),
        Index("ix_privacy_requests_customer", "customer_id", "received_at", "id"),
        Index("ix_privacy_requests_received", "received_at", "id"),
        # The deadline report reads open requests by due date, and closed ones by close time.
        Index(
            "ix_privacy_requests_open_due",
            "due_on",
            postgresql_where="status IN ('received', 'verified', 'in_progress')",
        ),
        Index("ix_privacy_requests_closed_at", "closed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(16))
    regime: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(8))
    received_at: Mapped[datetime]
    due_on: Mapped[date] = mapped_column(Date)
    extended_due_on: Mapped[date | None] = mapped_column(Date)
    extension_reason: Mapped[str | None] = mapped_column(
        Text, info=not_personal("why the controller needs longer, written by staff")
    )
    verified_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    rejection_reason: Mapped[str | None] = mapped_column(
        Text, info=not_personal("the legal ground for refusing, written by staff")
    )
    # Rectification: the corrections asked for (a CustomerUpdate as JSON), sealed per field
    # because they are personal data by nature.
    corrections_enc: Mapped[str | None] = mapped_column(
        Text,
        info=personal(
            Category.IDENTITY,
            Category.CONTACT,
            Category.GOVERNMENT_ID,
            Category.DATE_OF_BIRTH,
            note="FieldCipher envelope of the corrections a rectification asks for",
        ),
    )
    # Erasure: the itemised report (ids and legal bases, no values), as erasure returned it.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, info=not_personal("ids, counts and legal bases of what was erased or withheld")
    )
    requested_by: Mapped[str] = mapped_column(String(100))
    lifted_at: Mapped[datetime | None]  # a restriction, when lifted (Art. 18(3))


class PrivacyRequestEvent(Base):
    """One status change of a request: who, when, from what to what, and why."""

    __tablename__ = "privacy_request_events"
    __table_args__ = (Index("ix_privacy_request_events_request", "request_id", "occurred_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("privacy_requests.id"))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(
        Text, info=not_personal("the workflow's reason (extension, rejection), written by staff")
    )
    occurred_at: Mapped[datetime]


class PrivacyVerification(Base):
    """The one-time code that proves a requester controls the address on file."""

    __tablename__ = "privacy_verifications"

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("privacy_requests.id"), primary_key=True
    )
    code_digest: Mapped[str] = mapped_column(
        String(64), info=not_personal("keyed HMAC of a one-time code, not of a person")
    )
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None]


class PrivacyExport(Base):
    """An access or portability answer, kept for download by the requester or staff."""

    __tablename__ = "privacy_exports"

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("privacy_requests.id"), primary_key=True
    )
    format: Mapped[str] = mapped_column(String(8), primary_key=True)  # json | csv
    media_type: Mapped[str] = mapped_column(String(64))
    content_enc: Mapped[str] = mapped_column(
        Text,
        info=personal(*Category, note="FieldCipher envelope of everything held about the person"),
    )
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
