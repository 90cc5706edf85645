"""Policy and document API models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pd_prime_demo.billing.service import PaymentPlanCode
from pd_prime_demo.core.dates import BusinessDate
from pd_prime_demo.core.money import Money
from pd_prime_demo.policies.enums import (
    CancellationReason,
    ChangeStatus,
    ConflictResolution,
    StatusOn,
)
from pd_prime_demo.rating.schemas import CoverageChoice


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BindRequest(_In):
    option: str | None = Field(default=None, max_length=50, description="Package to bind.")
    payment_plan: PaymentPlanCode = PaymentPlanCode.ANNUAL


CONFLICT_HELP = (
    "When the change is effective before later transactions that set the same fields: refuse "
    "(409 listing each conflict), keep_later (their values win from their own dates) or "
    "apply_new (this change's values hold; a later transaction that can no longer apply is "
    "dropped)."
)


class EndorsementCreate(_In):
    """A change to the state in force on ``effective_on``, as JSON merge patches (RFC 7396) of
    its ``risk`` and ``coverages``: members given replace (arrays whole), ``null`` removes."""

    effective_on: BusinessDate
    risk: dict[str, Any] | None = Field(
        default=None,
        description='Merge patch of the risk, e.g. {"policy": {"territory": "dallas"}}.',
        examples=[{"policy": {"multi_policy": True}}],
    )
    coverages: dict[str, CoverageChoice | None] | None = Field(
        default=None,
        max_length=30,
        description='Merge patch of the coverages: {"bi": {"limit": "250/500"}} changes a '
        'limit, {"collision": null} removes a coverage.',
    )
    note: str | None = Field(default=None, max_length=2000)
    on_conflict: ConflictResolution = Field(
        default=ConflictResolution.REFUSE, description=CONFLICT_HELP
    )


class CancellationCreate(_In):
    effective_on: BusinessDate
    reason_code: CancellationReason
    note: str | None = Field(default=None, max_length=2000)
    on_conflict: ConflictResolution = Field(
        default=ConflictResolution.REFUSE, description=CONFLICT_HELP
    )


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
    change: dict[str, Any] = Field(description="What was asked for (an endorsement's patches).")
    reverses_seq: int | None = Field(description="For a reversal: the transaction it undoes.")
    reapplies_seq: int | None = Field(
        description="A transaction re-applied after an out-of-sequence change: the original."
    )
    created_at: datetime


class OutOfSequenceRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    reversed: list[int] = Field(description="Later transactions reversed (by seq).")
    reapplied: list[int] = Field(description="Their re-applications, recorded after the change.")
    dropped: list[int] = Field(description="Later transactions that no longer apply.")


class ChangeRecorded(TransactionRead):
    """The transaction a change recorded, and what it did to the transactions after it."""

    out_of_sequence: OutOfSequenceRead | None = None


class PolicyChangeRead(BaseModel):
    """A change underwriting must see: referred, then applied or declined."""

    model_config = ConfigDict(frozen=True, from_attributes=True)
    id: uuid.UUID
    policy_id: uuid.UUID
    kind: str
    effective_on: date
    status: ChangeStatus
    request: dict[str, Any]
    underwriting: dict[str, Any]
    required_authority: int
    premium_change: Money = Field(description="What the change would write, as requested.")
    requested_at: datetime
    requested_by: str
    decided_at: datetime | None
    decided_by: str | None
    decision_note: str | None
    transaction_id: uuid.UUID | None


class PolicyChangePage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[PolicyChangeRead]
    next_cursor: str | None = None


class ChangeDecision(_In):
    decision: Literal["approve", "decline"]
    note: str = Field(min_length=1, max_length=2000)


class RenewalRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)
    id: uuid.UUID
    term_start: date
    term_end: date
    rate_version: str
    premium: Money
    fees: Money
    taxes: Money
    status: str


class NonRenewalCreate(_In):
    reason: str = Field(min_length=1, max_length=500)


class PolicyRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    number: str
    quote_id: uuid.UUID | None = Field(description="None for a policy converted from elsewhere.")
    origin: str = Field(description="bound (from a quote) or imported (a book conversion).")
    customer_id: uuid.UUID
    product_code: str
    state: str
    inception_on: date
    payment_plan: str
    version: int = Field(description="Moves on with every change; the ETag, for If-Match.")
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


class PolicyPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[PolicyRead]
    next_cursor: str | None = None


class TransactionPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[TransactionRead]
    next_cursor: str | None = None


class DocumentRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)
    id: uuid.UUID
    kind: str
    status: str = Field(
        description="pending (its page is being drawn), ready (download it), or failed "
        "(every attempt failed; staff retry it from the jobs view)"
    )
    filename: str
    media_type: str
    sha256: str | None = Field(description="SHA-256 of the PDF, once it is ready")
    template_version: str | None = Field(
        default=None,
        description="The template that drew it, once it is ready: `<kind>/<version>@<first 16 "
        "hex of the file's SHA-256>` (an operator's override has its own); null for a "
        "document drawn before templates",
    )
    created_at: datetime
    rendered_at: datetime | None = None


class DocumentPending(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: uuid.UUID
    status: str
    detail: str


class DocumentPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[DocumentRead]
    next_cursor: str | None = None
