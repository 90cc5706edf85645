"""Billing's tables: accounts and terms, installments and invoices, payments and refunds, how
written premium is earned, and the double-entry premium ledger.

Billing keeps its own copy of what it needs about a policy (``billing_accounts``, written when
the policy is bound), so it never reads the policy tables: policies call billing, never the
reverse.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.billing.enums import Account
from pd_prime_demo.core import clock
from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import not_personal

_ACCOUNTS = ", ".join(f"'{a.value}'" for a in Account)


class BillingAccount(Base):
    """A policy's billing account: who may see it, its plan and the product's billing rules."""

    __tablename__ = "billing_accounts"
    __table_args__ = (Index("ix_billing_accounts_customer_id", "customer_id"),)

    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"), primary_key=True)
    policy_number: Mapped[str] = mapped_column(String(30))
    policy_serial: Mapped[int]
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    product_code: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(2))
    payment_plan: Mapped[str] = mapped_column(String(20))
    installment_fee: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    invoice_lead_days: Mapped[int]
    grace_days: Mapped[int]
    notice_days: Mapped[int]
    opened_at: Mapped[datetime]


class BillingTerm(Base):
    """What a term bills in all (premium, fees and taxes), and when its cover ends early."""

    __tablename__ = "billing_terms"

    policy_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("billing_accounts.policy_id"), primary_key=True
    )
    term_start: Mapped[date] = mapped_column(primary_key=True)
    term_end: Mapped[date]
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # Set by a cancellation, cleared by a reinstatement: installments due from then are void.
    cover_ends_on: Mapped[date | None]
    # When this version of the row was written; a trigger keeps earlier versions in
    # billing_terms_history, so the account can be read as it was known at any time.
    recorded_at: Mapped[datetime] = mapped_column(
        default=clock.now, onupdate=clock.now, server_default=func.now()
    )


class JournalEntry(Base):
    """One balanced business posting; its lines are in ``ledger_lines``."""

    __tablename__ = "ledger_journal"
    __table_args__ = (
        Index("ix_ledger_journal_policy_id", "policy_id"),
        # Reports by accounting period (earned premium by period for the loss ratios).
        Index("ix_ledger_journal_accounting_on", "accounting_on"),
    )

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
        # The billing run: what is still to invoice, by due date (migration 0029).
        Index(
            "ix_installments_to_invoice",
            "due_on",
            "id",
            postgresql_where="invoice_number IS NULL AND cancelled_on IS NULL",
        ),
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
    # When this version of the row was written (earlier versions: installments_history).
    recorded_at: Mapped[datetime] = mapped_column(
        default=clock.now, onupdate=clock.now, server_default=func.now()
    )


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
    # What it settled when made: [{term_start, seq, due_on, invoice_number, amount}].
    settled: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB,
        default=list,
        server_default="[]",
        info=not_personal("invoice numbers, due dates and amounts a payment settled"),
    )


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint("amount > 0", name="positive"),
        # What was refunded to a policy (its account view, the billing run's invoices).
        Index("ix_refunds_policy_id", "policy_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("policies.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    reason: Mapped[str] = mapped_column(String(40))
    issued_at: Mapped[datetime]


class PremiumEarning(Base):
    """A piece of written premium and the span it is earned over (append-only).

    One policy transaction writes one or more pieces whose amounts sum to its premium change,
    so written premium, and earned and unearned premium on any day, are sums over this table.
    """

    __tablename__ = "premium_earnings"
    __table_args__ = (
        Index("ix_premium_earnings_policy_id", "policy_id"),
        Index("ix_premium_earnings_accounting_on", "accounting_on"),
        # The earning run by group, and the distinct groups (migration 0028): covering.
        Index(
            "ix_premium_earnings_group",
            "product_code",
            "state",
            "accounting_on",
            postgresql_include=["amount", "start_on", "end_on", "basis", "term_start", "term_end"],
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    policy_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("billing_accounts.policy_id"))
    source_id: Mapped[uuid.UUID]  # the policy transaction that wrote it
    product_code: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(2))
    # Written premium counts on the later of the effective and booking dates.
    accounting_on: Mapped[date]
    recorded_at: Mapped[datetime]
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    start_on: Mapped[date]
    end_on: Mapped[date]
    basis: Mapped[str] = mapped_column(String(10))
    term_start: Mapped[date]
    term_end: Mapped[date]


class EarningGroupMark(Base):
    """How much of a product's premium in a state the ledger has recognised as earned, and
    through when (earned premium is posted in aggregate, one journal per group and day)."""

    __tablename__ = "earning_group_marks"

    product_code: Mapped[str] = mapped_column(String(50), primary_key=True)
    state: Mapped[str] = mapped_column(String(2), primary_key=True)
    earned_through: Mapped[date]
    earned_posted: Mapped[Decimal] = mapped_column(Numeric(16, 2))


class EarningPosting(Base):
    """The group of an aggregate earning journal or of an earning reversal: such a journal
    belongs to no policy, so reports by product and state find its group here."""

    __tablename__ = "earning_postings"

    journal_id: Mapped[int] = mapped_column(ForeignKey("ledger_journal.id"), primary_key=True)
    product_code: Mapped[str] = mapped_column(String(50))
    state: Mapped[str] = mapped_column(String(2))


class InstallmentVersion(Base):
    """An earlier version of an installment row, kept by a trigger when the row changes: it
    held from its ``recorded_at`` until ``superseded_at`` (the next version's)."""

    __tablename__ = "installments_history"
    __table_args__ = (Index("ix_installments_history_policy_id", "policy_id"),)

    history_id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    id: Mapped[uuid.UUID]
    policy_id: Mapped[uuid.UUID]
    term_start: Mapped[date]
    seq: Mapped[int]
    due_on: Mapped[date]
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    fee: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    invoice_number: Mapped[str | None] = mapped_column(String(40))
    invoiced_on: Mapped[date | None]
    cancelled_on: Mapped[date | None]
    notice_sent_on: Mapped[date | None]
    cancel_effective_on: Mapped[date | None]
    recorded_at: Mapped[datetime]
    superseded_at: Mapped[datetime]


class BillingTermVersion(Base):
    """An earlier version of a billing term row (see :class:`InstallmentVersion`)."""

    __tablename__ = "billing_terms_history"
    __table_args__ = (Index("ix_billing_terms_history_policy_id", "policy_id"),)

    history_id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    policy_id: Mapped[uuid.UUID]
    term_start: Mapped[date]
    term_end: Mapped[date]
    total: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    cover_ends_on: Mapped[date | None]
    recorded_at: Mapped[datetime]
    superseded_at: Mapped[datetime]
