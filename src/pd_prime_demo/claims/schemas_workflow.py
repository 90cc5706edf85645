"""API models of claims handling: the claim read (staff's and the policyholder's view), lists,
the status workflow, assignment, notes, the diary and the claim as of a moment."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pd_prime_demo.claims.enums import ClaimStatus, ClosedOutcome, DiaryStatus
from pd_prime_demo.core.dates import BusinessDate
from pd_prime_demo.core.money import Money

View = Literal["staff", "policyholder"]
VIEW_HELP = (
    "`staff` for the company's claims staff (adjusters, underwriters, administrators); "
    "`policyholder` for the customer and their agent: status, parties, shared notes and "
    "payments, never internal notes, reserves, coverage findings, fraud indicators, approvals "
    "or the diary (those members are null)."
)


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


class ClaimSummary(_Out):
    id: uuid.UUID
    number: str
    policy_id: uuid.UUID
    customer_id: uuid.UUID
    product_code: str
    state: str
    status: ClaimStatus
    closed_outcome: ClosedOutcome | None
    loss_on: date
    cause_code: str
    coverage_status: str
    reported_at: datetime
    adjuster_id: uuid.UUID | None
    version: int = Field(description="Moves on with every change; the ETag, for If-Match.")


class ClaimPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[ClaimSummary]
    next_cursor: str | None = None


class PartyRead(_Out):
    id: uuid.UUID
    role: str
    name: str
    injured: bool
    customer_id: uuid.UUID | None
    contact: dict[str, Any] | None = Field(
        description="Phone, e-mail, address: shown to pii:read and to the policyholder; null "
        "(masked) otherwise."
    )
    contact_masked: bool


class InvolvedRead(_Out):
    id: uuid.UUID
    kind: str
    policy_unit: int | None
    owner_party_id: uuid.UUID | None
    description: str
    damage: str
    details: dict[str, Any]


class ReserveLineRead(_Out):
    id: uuid.UUID
    cost_type: str
    category: str
    reserve: Money = Field(description="Outstanding.")
    paid: Money
    recovered: Money


class MoneyTotals(BaseModel):
    model_config = ConfigDict(frozen=True)
    reserve: Money = Field(description="Outstanding case reserve.")
    paid: Money
    recovered: Money
    incurred: Money = Field(description="Paid plus outstanding reserve.")
    net_incurred: Money = Field(description="Incurred less recoveries.")


class ExposureRead(_Out):
    id: uuid.UUID
    seq: int
    claimant_party_id: uuid.UUID | None
    coverage_code: str
    policy_unit: int | None
    limit_amount: Money | None
    occurrence_limit: Money | None
    deductible_amount: Money
    valuation: Money | None
    status: str
    reserve_lines: list[ReserveLineRead]
    totals: MoneyTotals


class ApprovalRead(_Out):
    id: uuid.UUID
    exposure_id: uuid.UUID
    kind: str
    amount: Money
    reason: str
    requested_by: str
    requested_at: datetime


class PaymentRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: int
    exposure_id: uuid.UUID
    cost_type: str
    amount: Money
    payee: str | None
    paid_at: datetime


class StatusChangeRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    from_status: ClaimStatus | None
    to_status: ClaimStatus
    closed_outcome: ClosedOutcome | None
    reason: str
    actor_id: str | None = Field(description="Who moved it (null in the policyholder's view).")
    at: datetime


class AssignmentRead(_Out):
    adjuster_id: uuid.UUID
    previous_adjuster_id: uuid.UUID | None
    reason: str
    actor_id: str
    at: datetime


class ClaimRead(BaseModel):
    """A claim in detail. Sections marked staff-only are null in the policyholder's view."""

    model_config = ConfigDict(frozen=True)

    view: View = Field(description=VIEW_HELP)
    id: uuid.UUID
    number: str
    policy_id: uuid.UUID
    customer_id: uuid.UUID
    product_code: str
    state: str
    status: ClaimStatus
    closed_outcome: ClosedOutcome | None
    denial_reason: str | None
    loss_at: datetime
    loss_on: date
    loss_time_zone: str
    cause_code: str
    location: dict[str, Any]
    description: str
    reported_at: datetime
    reported_via: str
    coverage_status: str
    adjuster_id: uuid.UUID | None
    adjuster_name: str | None
    version: int = Field(description="Moves on with every change; the ETag, for If-Match.")
    parties: list[PartyRead]
    involved: list[InvolvedRead]
    payments: list[PaymentRead] = Field(
        description="Indemnity payments in the policyholder's view; every payment for staff."
    )
    status_history: list[StatusChangeRead]
    allowed_moves: list[ClaimStatus] | None = Field(description="Staff only.")
    coverage_findings: list[dict[str, Any]] | None = Field(description="Staff only.")
    fraud_indicators: list[dict[str, Any]] | None = Field(description="Staff only.")
    exposures: list[ExposureRead] | None = Field(description="Staff only.")
    totals: MoneyTotals | None = Field(description="Staff only.")
    pending_approvals: list[ApprovalRead] | None = Field(description="Staff only.")
    assignment_history: list[AssignmentRead] | None = Field(description="Staff only.")


class ClaimAsOf(BaseModel):
    """The claim as it stood at a moment: derived from its status and assignment histories
    and from the money transactions recorded by then (``recorded_at``: what was known then,
    so a past moment reads the same whenever it is asked)."""

    model_config = ConfigDict(frozen=True)

    view: View
    id: uuid.UUID
    number: str
    at: datetime
    status: ClaimStatus | None = Field(description="Null before the claim was reported.")
    closed_outcome: ClosedOutcome | None
    adjuster_id: uuid.UUID | None
    paid: Money = Field(description="Paid by then (the policyholder's view: indemnity only).")
    totals: MoneyTotals | None = Field(description="Staff only.")
    transactions: int | None = Field(description="Money transactions recorded by then (staff).")


class StatusMove(_In):
    status: ClaimStatus = Field(description="Where the claim goes.")
    outcome: ClosedOutcome | None = Field(default=None, description="Required when closing.")
    reason: str = Field(
        default="",
        max_length=2000,
        description="Required to deny or to reopen; shown to the policyholder.",
    )

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [{"status": "closed", "outcome": "denied", "reason": "Wear and tear."}]
        },
    )


class AssignmentRequest(_In):
    adjuster_id: uuid.UUID | None = Field(
        default=None,
        description="The adjuster; omitted: the active adjuster with the fewest open claims.",
    )
    reason: str = Field(
        default="", max_length=2000, description="Required when the claim has an adjuster."
    )


class NoteCreate(_In):
    body: str = Field(min_length=1, max_length=10_000)
    internal: bool = Field(
        default=True, description="Internal notes are for staff; shared ones the policyholder sees."
    )


class NoteRead(_Out):
    id: uuid.UUID
    claim_id: uuid.UUID
    body: str
    internal: bool
    author_id: str
    created_at: datetime


class NotePage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[NoteRead]
    next_cursor: str | None = None


class DiaryCreate(_In):
    title: str = Field(min_length=1, max_length=200)
    details: str = Field(default="", max_length=10_000)
    due_on: BusinessDate
    assigned_to: uuid.UUID | None = Field(
        default=None, description="A claims handler; omitted: the claim's adjuster."
    )


class DiaryRead(_Out):
    id: uuid.UUID
    claim_id: uuid.UUID
    title: str
    details: str
    due_on: date
    assigned_to: uuid.UUID | None
    status: DiaryStatus
    created_by: str
    created_at: datetime
    completed_at: datetime | None
    completed_by: str | None


class DiaryPage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[DiaryRead]
    next_cursor: str | None = None
