"""The double-entry premium ledger, installments and invoices, payments and refunds."""

from __future__ import annotations

import enum
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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base


class Account(enum.StrEnum):
    RECEIVABLE = "premium_receivable"  # asset: billed to policyholders, not yet paid
    CASH = "cash"  # asset
    UNEARNED = "unearned_premium"  # liability: written, not yet earned
    EARNED = "earned_premium"  # revenue
    FEES = "fee_income"  # revenue
    TAXES = "taxes_payable"  # liability: collected for the state


_ACCOUNTS = ", ".join(f"'{a.value}'" for a in Account)


class JournalEntry(Base):
    """One balanced business posting; its lines are in ``ledger_lines``."""

    __tablename__ = "ledger_journal"
    __table_args__ = (Index("ix_ledger_journal_policy_id", "policy_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    occurred_at: Mapped[datetime]
    accounting_on: Mapped[date]
    policy_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("policies.id"))
    source: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(100))
    memo: Mapped[str] = mapped_column(String(200))


class LedgerLine(Base):
    __tablename__ = "ledger_lines"
    __table_args__ = (
        CheckConstraint(f"account IN ({_ACCOUNTS})", name="account_known"),
        CheckConstraint(
            "debit >= 0 AND credit >= 0 AND (debit = 0) <> (credit = 0)", name="one_sided"
        ),
        Index("ix_ledger_lines_journal_id", "journal_id"),
        Index("ix_ledger_lines_account", "account"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    journal_id: Mapped[int] = mapped_column(ForeignKey("ledger_journal.id"))
    account: Mapped[str] = mapped_column(String(40))
    debit: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    credit: Mapped[Decimal] = mapped_column(Numeric(14, 2))


class InstallmentRow(Base):
    """A scheduled installment; once invoiced it carries its invoice number."""

    __tablename__ = "installments"
    __table_args__ = (
        UniqueConstraint("policy_id", "term_start", "seq", name="uq_installments_term_seq"),
        Index("ix_installments_due_on", "due_on"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    term_start: Mapped[date]
    seq: Mapped[int]
    due_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    fee: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    invoice_number: Mapped[str | None] = mapped_column(String(40), unique=True)
    invoiced_on: Mapped[date | None]
    cancelled_on: Mapped[date | None]
    # Delinquency: when the notice of cancellation went out, and the date it takes effect.
    notice_sent_on: Mapped[date | None]
    cancel_effective_on: Mapped[date | None]


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("policy_id", "idempotency_key", name="uq_payments_idempotency"),
        CheckConstraint("amount > 0", name="positive"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    method: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]
    received_by: Mapped[str] = mapped_column(String(100))


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="positive"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    reason: Mapped[str] = mapped_column(String(40))
    issued_at: Mapped[datetime]


class EarningMark(Base):
    """How much of a policy's premium the ledger has recognised as earned, and through when."""

    __tablename__ = "earning_marks"

    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"), primary_key=True)
    earned_through: Mapped[date]
    earned_posted: Mapped[Decimal] = mapped_column(Numeric(14, 2))
