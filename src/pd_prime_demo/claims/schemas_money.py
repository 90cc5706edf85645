"""The money's API models: exposures, reserves, payments, recoveries, approvals, authority."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pd_prime_demo.core.actor import Role

Positive = Annotated[Decimal, Field(gt=0, le=10**9, decimal_places=2, examples=["1250.00"])]
NotNegative = Annotated[Decimal, Field(ge=0, le=10**9, decimal_places=2, examples=["5000.00"])]
Reason = Annotated[str, Field(min_length=1, max_length=2000, examples=["estimate received"])]
Category = Annotated[
    str,
    Field(
        min_length=1,
        max_length=40,
        description=(
            "indemnity: vehicle_damage, bodily_injury, property_damage, dwelling, contents, "
            "medical, loss_of_use, other; expense: legal, adjusting, appraisal, other"
        ),
        examples=["vehicle_damage"],
    ),
]
CostTypeField = Literal["indemnity", "expense"]


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class ExposureCreate(_In):
    coverage_code: str = Field(min_length=1, max_length=50, examples=["collision"])
    policy_unit: int | None = Field(
        default=None, ge=0, le=99, description="The vehicle index, for a per-vehicle coverage."
    )
    claimant_party_id: uuid.UUID | None = Field(
        default=None, description="One of the claim's parties: whose loss this is."
    )


class ValuationSet(_In):
    valuation: Positive = Field(
        description="The damaged property's value (actual cash value): the limit on the "
        "valuation basis, and a cap on any other."
    )
    reason: Reason


class ReserveLineRead(_Out):
    id: uuid.UUID
    cost_type: CostTypeField
    category: str
    reserve: Decimal = Field(description="Outstanding case reserve.")
    paid: Decimal
    recovered: Decimal
    created_at: datetime


class ExposureRead(_Out):
    id: uuid.UUID
    claim_id: uuid.UUID
    seq: int
    claimant_party_id: uuid.UUID | None
    coverage_code: str
    policy_unit: int | None
    limit_amount: Decimal | None = Field(description="None: the valuation is the limit.")
    occurrence_limit: Decimal | None
    deductible_amount: Decimal
    valuation: Decimal | None
    payable_cap: Decimal | None = Field(
        description="Indemnity payable on it in all: the limit (or valuation) less the "
        "deductible. None until a valuation basis exposure is valued."
    )
    indemnity_paid: Decimal
    indemnity_available: Decimal | None = Field(
        description="What may still be paid in indemnity, the per-occurrence limit included."
    )
    terms: str = Field(description="How the coverage's terms were read on the loss date.")
    status: str
    created_by: str
    created_at: datetime
    reserve_lines: list[ReserveLineRead]


class ExposureList(_Out):
    items: list[ExposureRead]


class ReserveSet(_In):
    cost_type: CostTypeField
    category: Category
    amount: NotNegative = Field(description="The new outstanding reserve (not a change).")
    reason: Reason


class PaymentCreate(_In):
    cost_type: CostTypeField
    category: Category
    amount: Positive
    payee: str = Field(min_length=1, max_length=200, examples=["Austin Body Works"])
    reason: Reason


class RecoveryCreate(_In):
    kind: Literal["salvage", "subrogation"]
    cost_type: CostTypeField = "indemnity"
    category: Category
    amount: Positive
    payer: str | None = Field(default=None, max_length=200, examples=["Copart"])
    reason: Reason


class TransactionRead(_Out):
    id: int
    claim_id: uuid.UUID
    exposure_id: uuid.UUID
    reserve_line_id: uuid.UUID
    kind: Literal["reserve", "payment", "salvage", "subrogation"]
    cost_type: CostTypeField
    amount: Decimal = Field(description="The reserve change, or the amount paid or recovered.")
    reserve_change: Decimal = Field(description="How the outstanding reserve moved with it.")
    reserve_after: Decimal
    reason: str
    payee: str | None
    approval_id: uuid.UUID | None
    actor_id: str
    recorded_at: datetime
    accounting_on: date


class TransactionPage(_Out):
    items: list[TransactionRead]
    next_cursor: str | None


class ApprovalRead(_Out):
    id: uuid.UUID
    claim_id: uuid.UUID
    exposure_id: uuid.UUID
    reserve_line_id: uuid.UUID
    kind: Literal["reserve", "payment"]
    amount: Decimal = Field(description="The reserve asked for, or the payment's amount.")
    reason: str
    payee: str | None
    status: Literal["pending", "approved", "rejected", "withdrawn"]
    reserve_before: Decimal = Field(
        description="The line's outstanding reserve when asked: a reserve approval is refused "
        "(409 `claim.reserve_moved`) once the reserve moved from it, and waits to be rejected."
    )
    requested_by: str = Field(description="The credential that asked: a user, API key or client.")
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None


class ApprovalPage(_Out):
    items: list[ApprovalRead]
    next_cursor: str | None


class Decision(_In):
    note: str | None = Field(default=None, max_length=2000)


class MovementRead(_Out):
    """What a reserve or payment request did: posted (``transaction``; a payment that raised
    the reserve first lists that too in ``transactions``), or waiting for approval."""

    status: Literal["posted", "pending_approval"]
    transaction: TransactionRead | None
    transactions: list[TransactionRead]
    approval: ApprovalRead | None
    reserve_line: ReserveLineRead


class DecisionRead(_Out):
    approval: ApprovalRead
    transactions: list[TransactionRead]


class AuthorityRead(_Out):
    id: uuid.UUID
    role: str | None
    user_id: uuid.UUID | None
    cost_type: CostTypeField
    reserve_limit: Decimal = Field(description="The most one may reserve on one line.")
    payment_limit: Decimal = Field(description="The most one may pay at once.")
    updated_by: str
    updated_at: datetime


class AuthorityList(_Out):
    items: list[AuthorityRead]


class AuthoritySet(_In):
    """One row of authority: for a role, or for one user (overriding their role's)."""

    role: Role | None = None
    user_id: uuid.UUID | None = None
    cost_type: CostTypeField
    reserve_limit: NotNegative
    payment_limit: NotNegative

    @model_validator(mode="after")
    def _one_holder(self) -> AuthoritySet:
        if (self.role is None) == (self.user_id is None):
            raise ValueError("give a role or a user_id, not both")
        return self
