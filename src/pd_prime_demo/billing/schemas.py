"""Billing API models."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from pd_prime_demo.billing.enums import InstallmentStatus, PaymentMethod
from pd_prime_demo.core.dates import BusinessDate
from pd_prime_demo.core.money import DecimalIn, Money


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PaymentCreate(_In):
    amount: DecimalIn = Field(gt=0, le=1_000_000, decimal_places=2)
    method: PaymentMethod = PaymentMethod.CARD


class SettledRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    term_start: date
    seq: int
    due_on: date
    invoice_number: str | None = Field(description="None: a scheduled installment prepaid.")
    amount: Money


class PaymentRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)
    id: uuid.UUID
    amount: Money
    method: str
    received_at: datetime


class PaymentRecorded(PaymentRead):
    """A payment and what it settled, oldest installment first; the rest is a credit."""

    settled: list[SettledRead]
    credit: Money = Field(description="What no installment needed (kept, or refunded).")


class RefundRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)
    id: uuid.UUID
    amount: Money
    reason: str
    issued_at: datetime


class InstallmentRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    term_start: date
    seq: int
    due_on: date
    amount: Money
    fee: Money
    invoice_number: str | None
    invoiced_on: date | None
    status: InstallmentStatus
    paid: Money
    outstanding: Money


class AccountRead(BaseModel):
    """The account on ``as_of`` (invoices issued and money received by then) as the system
    knew it at ``known_at``: its installments (an invoiced one is an invoice), the payments
    and refunds, and the ledger's balance."""

    model_config = ConfigDict(frozen=True)
    as_of: date | None
    known_at: datetime | None
    balance: Money = Field(description="Owed (positive) or credit (negative), per the ledger.")
    paid: Money
    refunded: Money
    unapplied: Money
    installments: list[InstallmentRead]
    payments: list[PaymentRead]
    refunds: list[RefundRead]


class BillingRunCreate(_In):
    on: BusinessDate | None = Field(
        default=None, description="The day to run (default today): no later than today."
    )


class SkippedRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)
    policy_id: uuid.UUID
    policy_number: str
    code: str = Field(description="Why the non-payment cancellation did not go through.")
    reason: str


class BillingRunRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    on: date
    invoiced: int
    notices: int
    cancellations: int
    skipped: list[SkippedRead] = Field(
        description="Policies past their notice date that were not cancelled, and why."
    )


class EarningRunCreate(_In):
    through: BusinessDate = Field(
        description="Recognise earned premium through this day: no later than today."
    )
    restate: bool = Field(
        default=False,
        description="Recognise exactly what is earned through `through`, reversing with "
        "correcting entries anything recognised beyond it (otherwise only what is newly earned "
        "is posted).",
    )


class EarningRunRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    through: date
    entries_posted: int


class TrialBalanceRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    balanced: bool
    debits: Money
    credits: Money
    unbalanced_entries: list[int]
    accounts: dict[str, Money]
