"""A claim's money: exposures, their reserve lines, the posted transactions, approvals and the
authority limits they are checked against.

Every posted transaction (reserve change, payment, recovery) is an append-only row here and a
balanced journal entry on the ledger in the same database transaction. The reserve line keeps
running totals (``reserve``, ``paid``, ``recovered``) for the checks that must be made under
its row lock; the transactions are the history, and the totals always equal their sums (a test
holds that).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.claims.enums import ApprovalStatus, CostType, ExposureStatus, MoneyKind
from pd_prime_demo.claims.models import _one_of
from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import Category, personal


class Exposure(Base):
    """One claimant's loss under one coverage (ClaimCenter's exposure)."""

    __tablename__ = "claim_exposures"
    __table_args__ = (
        _one_of("status", ExposureStatus, "status_known"),
        UniqueConstraint("claim_id", "seq", name="uq_claim_exposures_claim_id_seq"),
        Index("ix_claim_exposures_claim_id", "claim_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    seq: Mapped[int]  # 1, 2, ... within the claim
    claimant_party_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("claim_parties.id"))
    coverage_code: Mapped[str] = mapped_column(String(50))
    policy_unit: Mapped[int | None]  # the vehicle index, for a coverage rated per vehicle
    # The coverage's terms on the loss date, fixed when the exposure is opened. ``limit_amount``
    # is None when the policy sets none (e.g. collision pays the actual cash value): then the
    # adjuster's ``valuation`` is the limit, and no indemnity is paid before it is set.
    limit_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # A per-occurrence (per accident) limit shared by the claim's exposures on this coverage.
    occurrence_limit: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    deductible_amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    valuation: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    terms: Mapped[str] = mapped_column(Text, default="", server_default="")  # how they were read
    status: Mapped[str] = mapped_column(String(10))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class ReserveLine(Base):
    """An exposure's reserve for one cost type and category (indemnity/body repair, expense/
    legal, ...), with its running totals."""

    __tablename__ = "claim_reserve_lines"
    __table_args__ = (
        _one_of("cost_type", CostType, "cost_type_known"),
        UniqueConstraint(
            "exposure_id", "cost_type", "category", name="uq_claim_reserve_lines_exposure_type_cat"
        ),
        CheckConstraint("reserve >= 0", name="reserve_not_negative"),
        Index("ix_claim_reserve_lines_claim_id", "claim_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    exposure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claim_exposures.id"))
    cost_type: Mapped[str] = mapped_column(String(10))
    category: Mapped[str] = mapped_column(String(40))
    reserve: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))  # outstanding
    paid: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    recovered: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal(0))
    created_at: Mapped[datetime]


class ClaimTransaction(Base):
    """A posted money movement, append-only: the claim's financial history, and the rows the
    loss triangles are built from (accident date from the claim, ``accounting_on`` for the
    development age)."""

    __tablename__ = "claim_transactions"
    __table_args__ = (
        _one_of("kind", MoneyKind, "kind_known"),
        _one_of("cost_type", CostType, "cost_type_known"),
        Index("ix_claim_transactions_claim_id_id", "claim_id", "id"),
        Index("ix_claim_transactions_reserve_line_id", "reserve_line_id"),
        # The triangles' and loss reports' aggregate: one index-only scan by period.
        Index(
            "ix_claim_transactions_accounting_on",
            "accounting_on",
            postgresql_include=["claim_id", "kind", "cost_type", "amount", "reserve_change"],
        ),
        UniqueConstraint("claim_id", "idempotency_key", name="uq_claim_transactions_idem"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    exposure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claim_exposures.id"))
    reserve_line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claim_reserve_lines.id"))
    kind: Mapped[str] = mapped_column(String(12))
    cost_type: Mapped[str] = mapped_column(String(10))
    # The money moved: the reserve change for a reserve, the amount paid or recovered otherwise
    # (positive; a recovery lowers what the claim cost).
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # How the outstanding reserve moved with it (a payment takes down the reserve it uses).
    reserve_change: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    reserve_after: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    reason: Mapped[str] = mapped_column(Text)
    payee: Mapped[str | None] = mapped_column(
        String(200), info=personal(Category.IDENTITY, subject="payee")
    )
    approval_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("claim_approvals.id"))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    actor_id: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime]
    accounting_on: Mapped[date]


class Approval(Base):
    """A reserve or payment above the requester's authority, waiting for someone with enough."""

    __tablename__ = "claim_approvals"
    __table_args__ = (
        _one_of("status", ApprovalStatus, "status_known"),
        _one_of("kind", MoneyKind, "kind_known"),
        Index("ix_claim_approvals_claim_id", "claim_id"),
        Index(
            "ix_claim_approvals_pending",
            "requested_at",
            "id",
            postgresql_where="status = 'pending'",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    claim_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claims.id"))
    exposure_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claim_exposures.id"))
    reserve_line_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("claim_reserve_lines.id"))
    kind: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    reason: Mapped[str] = mapped_column(Text)
    payee: Mapped[str | None] = mapped_column(
        String(200), info=personal(Category.IDENTITY, subject="payee")
    )
    status: Mapped[str] = mapped_column(String(10))
    # The line's outstanding reserve when asked: approval refuses a request the line has
    # moved past since (someone else changed the reserve meanwhile).
    reserve_before: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    requested_by: Mapped[str] = mapped_column(String(100))  # the actor (a login, key, client)
    # The person behind the actor, whatever credential they used: nobody approves their own.
    requested_by_user_id: Mapped[uuid.UUID | None]
    requested_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_by_user_id: Mapped[uuid.UUID | None]
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(
        Text,
        info=personal(Category.FREE_TEXT, note="staff's free-text reason: may mention the person"),
    )


class AuthorityLimit(Base):
    """How much one may reserve or pay on one exposure line without approval: per role, or
    per user (a user's row overrides the role's). Data, changed through the API."""

    __tablename__ = "claim_authority_limits"
    __table_args__ = (
        _one_of("cost_type", CostType, "cost_type_known"),
        CheckConstraint("(role IS NULL) <> (user_id IS NULL)", name="role_or_user"),
        # One row per role or user and cost type (a role's row has no user: NULLs not distinct).
        UniqueConstraint(
            "role",
            "user_id",
            "cost_type",
            name="uq_claim_authority_limits_who",
            postgresql_nulls_not_distinct=True,
        ),
        CheckConstraint("reserve_limit >= 0 AND payment_limit >= 0", name="limits_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    role: Mapped[str | None] = mapped_column(String(20))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    cost_type: Mapped[str] = mapped_column(String(10))
    reserve_limit: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    payment_limit: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]
