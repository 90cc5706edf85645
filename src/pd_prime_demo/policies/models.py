"""Policies and their append-only transactions.

The ``policies`` row is the immutable header (number, the quote it came from, customer,
product); everything that changes is a ``policy_transactions`` row, each with the full state
it puts in force from its effective date. Nothing is updated in place; the state "as of" any
date is derived from the transactions.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import Category, not_personal, personal
from pd_prime_demo.policies.enums import ChangeStatus, RenewalStatus, TransactionKind


class Policy(Base):
    __tablename__ = "policies"
    __table_args__ = (
        Index("ix_policies_customer_id", "customer_id"),
        # The keyset every listing pages by, and the listing's filters.
        Index("ix_policies_created_at_id", "created_at", "id"),
        Index("ix_policies_product_state", "product_code", "state"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Drawn from the policy_number_seq sequence; the number shows it.
    serial: Mapped[int] = mapped_column(unique=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    # Unique: one quote binds at most one policy, whatever the concurrency. A policy converted
    # from another system (``origin`` imported) has no quote.
    quote_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("quotes.id"), unique=True)
    origin: Mapped[str] = mapped_column(String(20), default="bound", server_default="bound")
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    product_code: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(2))
    inception_on: Mapped[date]
    payment_plan: Mapped[str] = mapped_column(String(20))
    # Moves on with every change: the policy's ETag, checked against If-Match.
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class PolicyTransaction(Base):
    __tablename__ = "policy_transactions"
    __table_args__ = (
        CheckConstraint(
            "kind IN (" + ", ".join(f"'{k.value}'" for k in TransactionKind) + ")",
            name="kind_known",
        ),
        Index("ix_policy_transactions_policy_seq", "policy_id", "seq", unique=True),
        Index("ix_policy_transactions_accounting_on", "accounting_on"),
        Index(
            "ix_policy_transactions_reversals",
            "policy_id",
            "reverses_seq",
            postgresql_where="reverses_seq IS NOT NULL",
        ),
        # Renewal offers: the terms ending within the lead time (migration 0029).
        Index("ix_policy_transactions_term_end", "term_end", "policy_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    effective_on: Mapped[date]
    # Written premium counts on the later of the effective and booking dates.
    accounting_on: Mapped[date]
    term_start: Mapped[date]
    term_end: Mapped[date]
    product_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("product_versions.id"))
    premium_change: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    fees_change: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    taxes_change: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # The state in force from effective_on (status, term, coverages, premiums, risk).
    snapshot: Mapped[dict[str, Any]] = mapped_column(
        info=personal(
            Category.IDENTITY,
            Category.VEHICLE,
            Category.PROPERTY,
            subject="driver",
            note="the policy in force: its risk (drivers' ages and records, vehicles, location)",
        )
    )
    # How this transaction's written premium is earned: [{amount, start, end}].
    earnings: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, info=not_personal("how written premium is earned: amounts and dates")
    )
    reason_code: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(
        Text,
        info=personal(Category.FREE_TEXT, note="staff's free-text reason: may mention the person"),
    )
    # What was asked for (a merge patch, a reason...), so the change can be re-applied on top of
    # an out-of-sequence one; and for a reversal, the transaction it reverses.
    change: Mapped[dict[str, Any]] = mapped_column(
        default=dict,
        server_default="{}",
        info=personal(
            Category.IDENTITY,
            Category.VEHICLE,
            Category.PROPERTY,
            subject="driver",
            note="what a transaction changed: may patch the risk",
        ),
    )
    reverses_seq: Mapped[int | None]
    reapplies_seq: Mapped[int | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class PolicyChange(Base):
    """A change underwriting must see before it applies (an endorsement its rules refer)."""

    __tablename__ = "policy_changes"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s.value}'" for s in ChangeStatus) + ")",
            name="status_known",
        ),
        Index("ix_policy_changes_policy_id", "policy_id"),
        Index("ix_policy_changes_referred", "requested_at", postgresql_where="status = 'referred'"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    kind: Mapped[str] = mapped_column(String(20))
    effective_on: Mapped[date]
    request: Mapped[dict[str, Any]] = mapped_column(
        info=personal(
            Category.IDENTITY,
            Category.VEHICLE,
            Category.PROPERTY,
            subject="driver",
            note="the change asked for: a merge patch of the risk (drivers, vehicles, location)",
        )
    )
    status: Mapped[str] = mapped_column(String(12))
    underwriting: Mapped[dict[str, Any]] = mapped_column(
        info=not_personal("underwriting rule outcomes: codes, referrals, authority")
    )
    required_authority: Mapped[int]
    premium_change: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    requested_at: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision_note: Mapped[str | None] = mapped_column(
        Text,
        info=personal(Category.FREE_TEXT, note="staff's free-text reason: may mention the person"),
    )
    transaction_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("policy_transactions.id"))


class RenewalOffer(Base):
    """A renewal offered ahead of expiry: accepted (a renewal transaction) or lapsed."""

    __tablename__ = "policy_renewals"
    __table_args__ = (
        UniqueConstraint("policy_id", "term_start", name="uq_policy_renewals_term"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s.value}'" for s in RenewalStatus) + ")",
            name="status_known",
        ),
        # Renewal lapses: the offers still open, by term start (migration 0029).
        Index(
            "ix_policy_renewals_offered",
            "term_start",
            "id",
            postgresql_where="status = 'offered'",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    term_start: Mapped[date]
    term_end: Mapped[date]
    product_version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("product_versions.id"))
    rate_version: Mapped[str] = mapped_column(String(30))
    premium: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    fees: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    taxes: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    snapshot: Mapped[dict[str, Any]] = mapped_column(
        info=personal(
            Category.IDENTITY,
            Category.VEHICLE,
            Category.PROPERTY,
            subject="driver",
            note="the renewal term's policy: its risk (drivers, vehicles, location)",
        )
    )
    status: Mapped[str] = mapped_column(String(12))
    offered_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
