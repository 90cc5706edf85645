"""Claims and what hangs off one: parties, vehicles or property, attachments, the status
history, assignments, notes and diary tasks.

A claim's header row carries its current status and adjuster (for the queues' indexes); every
move is also a row of ``claim_status_history`` / ``claim_assignments``, so the claim "as of" any
moment is derived from those, never from the header alone. The money is in ``money_models``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.claims.enums import (
    ClaimStatus,
    ClosedOutcome,
    CoverageStatus,
    DiaryStatus,
    InvolvedKind,
    PartyRole,
    ReportedVia,
)
from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import Category, not_personal, personal


def _one_of(column: str, values: type[Any], name: str) -> CheckConstraint:
    return CheckConstraint(
        f"{column} IN (" + ", ".join(f"'{v.value}'" for v in values) + ")", name=name
    )


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        _one_of("status", ClaimStatus, "status_known"),
        _one_of("reported_via", ReportedVia, "reported_via_known"),
        _one_of("coverage_status", CoverageStatus, "coverage_status_known"),
        CheckConstraint(
            "(status = 'closed') = (closed_outcome IS NOT NULL)", name="closed_has_outcome"
        ),
        CheckConstraint(
            "closed_outcome IS NULL OR closed_outcome IN ("
            + ", ".join(f"'{v.value}'" for v in ClosedOutcome)
            + ")",
            name="closed_outcome_known",
        ),
        Index("ix_claims_policy_id_loss_on", "policy_id", "loss_on"),
        Index("ix_claims_customer_id", "customer_id"),
        # The keyset every listing pages by.
        Index("ix_claims_reported_at_id", "reported_at", "id"),
        # An adjuster's queue and the workload count that assignment balances.
        Index("ix_claims_adjuster_id_status", "adjuster_id", "status"),
        # Loss reports and triangles: by product, state and accident date.
        Index("ix_claims_product_state_loss_on", "product_code", "state", "loss_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Drawn from claim_number_seq; the number shows it with the product's claim prefix.
    serial: Mapped[int] = mapped_column(BigInteger, unique=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    # Copied from the policy at first notice: who may see the claim, and the reports' keys.
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    product_code: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(2))
    # The policy transaction in force on the loss date (as known at first notice), if any.
    policy_transaction_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("policy_transactions.id")
    )
    loss_at: Mapped[datetime]  # when the loss happened (aware; the reporter's zone kept below)
    loss_on: Mapped[date]  # the loss date in the policy's zone: what coverage is checked on
    loss_time_zone: Mapped[str] = mapped_column(String(64))
    cause_code: Mapped[str] = mapped_column(String(50))
    location: Mapped[dict[str, Any]] = mapped_column(
        JSONB, info=personal(Category.PROPERTY, note="where the loss happened")
    )
    description: Mapped[str] = mapped_column(
        Text,
        info=personal(
            Category.CLAIM,
            Category.FREE_TEXT,
            note="the loss as reported: may describe injuries",
        ),
    )
    reported_at: Mapped[datetime]
    reported_by: Mapped[str] = mapped_column(String(100))  # the actor id
    reported_via: Mapped[str] = mapped_column(String(20))
    coverage_status: Mapped[str] = mapped_column(String(10))
    # Why cover is in doubt ([] when verified): [{"code": ..., "message": ...}].
    coverage_findings: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, info=not_personal("codes and messages of the coverage check, about the policy")
    )
    # Explainable fraud indicators with their reasons, never a decision.
    fraud_indicators: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB,
        default=list,
        server_default="[]",
        info=personal(
            Category.CLAIM,
            note="explainable indicators about the claim (profiling, Art. 22), not a decision",
        ),
    )
    status: Mapped[str] = mapped_column(String(20))
    closed_outcome: Mapped[str | None] = mapped_column(String(20))
    denial_reason: Mapped[str | None] = mapped_column(Text)
    adjuster_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Moves on with every change: the claim's ETag, checked against If-Match.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    updated_at: Mapped[datetime]


class ClaimParty(Base):
    """Someone involved: the insured, a claimant, a driver, a witness."""

    __tablename__ = "claim_parties"
    __table_args__ = (
        _one_of("role", PartyRole, "role_known"),
        Index("ix_claim_parties_claim_id", "claim_id"),
        # A privacy request finds the person wherever they are a party (privacy.service).
        Index("ix_claim_parties_customer_id", "customer_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(
        String(200), info=personal(Category.IDENTITY, subject="claimant")
    )
    # Phone, e-mail and address as one JSON object, encrypted (core.pii_rotation lists it).
    contact_enc: Mapped[str | None] = mapped_column(
        Text, info=personal(Category.CONTACT, subject="claimant")
    )
    injured: Mapped[bool] = mapped_column(default=False, server_default="false")
    # A customer of ours (the insured), when the party is one.
    customer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id"))
    created_at: Mapped[datetime]


class ClaimInvolved(Base):
    """A vehicle or property involved: the insured's (``policy_unit`` is its index on the
    policy's schedule) or a third party's."""

    __tablename__ = "claim_involved"
    __table_args__ = (
        _one_of("kind", InvolvedKind, "kind_known"),
        Index("ix_claim_involved_claim_id", "claim_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    kind: Mapped[str] = mapped_column(String(10))
    policy_unit: Mapped[int | None]  # the vehicle's index on the policy, when it is insured
    owner_party_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("claim_parties.id"))
    description: Mapped[str] = mapped_column(
        Text,
        info=personal(Category.CLAIM, Category.VEHICLE, Category.FREE_TEXT, subject="claimant"),
    )
    damage: Mapped[str] = mapped_column(Text, default="", server_default="")
    details: Mapped[dict[str, Any]] = mapped_column(
        JSONB,
        default=dict,
        server_default="{}",
        info=personal(
            Category.VEHICLE,
            Category.PROPERTY,
            subject="claimant",
            note="the vehicle or property involved: VIN, plate, make",
        ),
    )
    created_at: Mapped[datetime]


class ClaimAttachment(Base):
    """A photo or document: its type read from its bytes, its SHA-256 kept."""

    __tablename__ = "claim_attachments"
    __table_args__ = (
        Index("ix_claim_attachments_claim_id_uploaded_at", "claim_id", "uploaded_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    filename: Mapped[str] = mapped_column(
        String(200), info=personal(Category.FREE_TEXT, note="the uploader's own file name")
    )
    media_type: Mapped[str] = mapped_column(String(100))  # sniffed, not the client's claim
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    description: Mapped[str] = mapped_column(
        Text, default="", server_default="", info=personal(Category.CLAIM, Category.FREE_TEXT)
    )
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime]


class ClaimStatusChange(Base):
    """Every move of the workflow, append-only: the claim's status as of any moment."""

    __tablename__ = "claim_status_history"
    __table_args__ = (Index("ix_claim_status_history_claim_id_at", "claim_id", "at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    closed_outcome: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    actor_id: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]


class ClaimAssignment(Base):
    """Who handles the claim from when: first assignment and every reassignment."""

    __tablename__ = "claim_assignments"
    __table_args__ = (Index("ix_claim_assignments_claim_id_at", "claim_id", "at", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    adjuster_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    previous_adjuster_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    actor_id: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]


class ClaimNote(Base):
    __tablename__ = "claim_notes"
    __table_args__ = (Index("ix_claim_notes_claim_id_created_at", "claim_id", "created_at", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    body: Mapped[str] = mapped_column(
        Text,
        info=personal(
            Category.CLAIM,
            Category.FREE_TEXT,
            subject="claimant",
            note="adjusters' notes: may record injuries and statements",
        ),
    )
    # Internal notes are for staff; shared ones the policyholder sees too.
    internal: Mapped[bool] = mapped_column(default=True, server_default="true")
    author_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class DiaryTask(Base):
    """A task on a claim with a due date (ClaimCenter's "activities"/diary)."""

    __tablename__ = "claim_diary"
    __table_args__ = (
        _one_of("status", DiaryStatus, "status_known"),
        Index("ix_claim_diary_claim_id", "claim_id"),
        # An adjuster's diary: open tasks by due date.
        Index(
            "ix_claim_diary_assignee_due_on",
            "assigned_to",
            "due_on",
            postgresql_where="status = 'open'",
        ),
        # Everyone's diary: open tasks by due date, keyset on (due_on, id) (migration 0029).
        Index("ix_claim_diary_open_due", "due_on", "id", postgresql_where="status = 'open'"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    title: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="", server_default="")
    due_on: Mapped[date]
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(100))
