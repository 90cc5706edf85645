"""Policy and document API models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pd_prime_demo.billing.service import PaymentPlanCode
from pd_prime_demo.core.dates import BusinessDate
from pd_prime_demo.core.money import Money
from pd_prime_demo.policies.enums import CancellationReason, StatusOn
from pd_prime_demo.rating.schemas import CoverageChoice, RiskData


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BindRequest(_In):
    option: str | None = Field(default=None, max_length=50, description="Package to bind.")
    payment_plan: PaymentPlanCode = PaymentPlanCode.ANNUAL


class EndorsementCreate(_In):
    effective_on: BusinessDate
    risk: RiskData | None = None
    coverages: dict[str, CoverageChoice] | None = Field(default=None, max_length=30)
    note: str | None = Field(default=None, max_length=2000)


class CancellationCreate(_In):
    effective_on: BusinessDate
    reason_code: CancellationReason
    note: str | None = Field(default=None, max_length=2000)


class ReinstatementCreate(_In):
    effective_on: BusinessDate | None = Field(
        default=None, description="Omit to reinstate without a lapse in cover."
    )
    note: str | None = Field(default=None, max_length=2000)


class TransactionRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: uuid.UUID
    seq: int
    kind: str
    effective_on: date
    accounting_on: date
    term_start: date
    term_end: date
    premium_change: Money
    fees_change: Money
    taxes_change: Money
    reason_code: str | None
    note: str | None
    snapshot: dict[str, Any]
    created_at: datetime


class PolicyRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    number: str
    quote_id: uuid.UUID
    customer_id: uuid.UUID
    product_code: str
    state: str
    inception_on: date
    payment_plan: str
    as_of: date
    status: StatusOn
    in_force: dict[str, Any] | None = Field(
        description="The state in force on as_of (null when nothing is: before inception, after "
        "expiry)."
    )
    terms: dict[str, Any] | None = Field(
        description="What the policy says on as_of: the state in effect that day (also once "
        "expired or cancelled), or before inception the state it starts with."
    )
    transaction_seq: int | None = Field(description="The transaction whose state `terms` is.")


class PolicyList(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[PolicyRead]


class TransactionList(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[TransactionRead]


class DocumentRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)
    id: uuid.UUID
    kind: str
    filename: str
    media_type: str
    sha256: str
    created_at: datetime


class DocumentList(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[DocumentRead]
