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
from pd_prime_demo.policies.enums import RenewalStatus, TransactionKind


class Policy(Base):
    __tablename__ = "policies"
    __table_args__ = (Index("ix_policies_customer_id", "customer_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Drawn from the policy_number_seq sequence; the number shows it.
    serial: Mapped[int] = mapped_column(unique=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    # Unique: one quote binds at most one policy, whatever the concurrency.
    quote_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("quotes.id"), unique=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    product_code: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(2))
    inception_on: Mapped[date]
    payment_plan: Mapped[str] = mapped_column(String(20))
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
    snapshot: Mapped[dict[str, Any]]
    # How this transaction's written premium is earned: [{amount, start, end}].
    earnings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    reason_code: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class RenewalOffer(Base):
    """A renewal offered ahead of expiry: accepted (a renewal transaction) or lapsed."""

    __tablename__ = "policy_renewals"
    __table_args__ = (
        UniqueConstraint("policy_id", "term_start", name="uq_policy_renewals_term"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s.value}'" for s in RenewalStatus) + ")",
            name="status_known",
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
    snapshot: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(12))
    offered_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
