"""The payload (``data``) of each published event type, as Pydantic models.

A payload holds ids, numbers, states and amounts, never PII: a subscriber that needs more reads
the resource through the API, where its own permissions apply. The models forbid members they
do not declare, so the catalogue test proves that every member the code emits is documented;
the published schemas leave ``additionalProperties`` open instead, because new optional members
may be added without a new version of the event (consumers ignore members they do not know).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# Amounts and factors are decimal strings, never JSON numbers (no binary floating point).
Decimal = Annotated[
    str, Field(pattern=r"^-?\d+(\.\d+)?$", examples=["412.50"], description="A decimal amount.")
]


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class QuoteCreated(Payload):
    number: int = Field(description="The quote number.", examples=[100123])
    customer_id: uuid.UUID


class QuoteMoved(Payload):
    """A quote's status changed from ``from`` to ``to`` (the status in the event type)."""

    number: int
    customer_id: uuid.UUID
    from_: str = Field(alias="from", description="The status before.", examples=["draft"])
    to: str = Field(description="The status now.", examples=["quoted"])


class QuoteAssessed(QuoteMoved):
    """Rated and underwritten: where the rules sent it, at which premium."""

    rate_version: str = Field(description="The product version that rated it.")
    rules: list[str] = Field(description="Codes of the underwriting rules it triggered.")
    premium: Decimal = Field(description="The first package's premium.")


class QuoteDeclined(QuoteMoved):
    """Declined by a rule when rated (``rules`` and ``premium`` given) or by an underwriter
    (``decision`` is ``decline``)."""

    rate_version: str | None = None
    rules: list[str] | None = None
    premium: Decimal | None = None
    decision: Literal["decline"] | None = None


class QuoteApproved(QuoteMoved):
    decision: Literal["approve"]
    surcharge: Decimal | None = Field(description="The premium factor the underwriter applied.")
    changed_terms: bool = Field(description="Whether the underwriter changed the packages.")


class QuoteBound(QuoteMoved):
    policy_id: uuid.UUID
    option: str = Field(description="The package bound.")


class PolicyTransacted(Payload):
    """A transaction of the policy's history (the kind is in the event type)."""

    number: str = Field(description="The policy number.")
    seq: int = Field(description="The transaction's number in the policy's history.")
    effective_on: date
    premium_change: Decimal = Field(description="Written premium it adds (negative: returns).")
    reason_code: str | None = None
    reverses_seq: int | None = Field(
        default=None, description="The later transaction it undoes (out of sequence)."
    )
    reapplies_seq: int | None = Field(
        default=None, description="The undone transaction it applies again on top."
    )


class PolicyImported(Payload):
    number: str
    transactions: int = Field(description="Transactions of the converted history.")
    payments: int = Field(description="Payments replayed into billing.")
    inception_on: date


class ChangeReferred(Payload):
    change_id: uuid.UUID
    effective_on: date
    rules: list[str]
    required_authority: int = Field(ge=1, le=5)


class ChangeDecided(Payload):
    change_id: uuid.UUID
    decision: Literal["approve", "decline"]


class RenewalOffered(Payload):
    term_start: date
    premium: Decimal
    rate_version: str


class RenewalRepriced(Payload):
    term_start: date
    premium: Decimal


class RenewalEnded(Payload):
    term_start: date


class PaymentReceived(Payload):
    payment_id: uuid.UUID
    amount: Decimal


class RefundIssued(Payload):
    refund_id: uuid.UUID
    amount: Decimal


class Invoiced(Payload):
    invoice: str = Field(description="The invoice number.")
    due_on: date
    amount: Decimal = Field(description="Installment and fee.")


class CancellationNotice(Payload):
    invoice: str = Field(description="The past-due invoice.")
    notice_sent_on: date = Field(
        description="The day the notice was mailed (a run catching up a missed day mails it "
        "that day, not the missed one); the notice period runs from it."
    )
    cancel_effective_on: date


class ProductVersionMoved(Payload):
    product_code: str
    state: str = Field(description="The US state the version is filed in.", examples=["TX"])
    version: str = Field(examples=["TX-2026.1"])


class DocumentRequested(Payload):
    policy_id: uuid.UUID
    kind: str = Field(examples=["declarations", "invoice"])


class DocumentReady(DocumentRequested):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Of the PDF's bytes.")


class DocumentFailed(DocumentRequested):
    pass


class WebhookReplayRequested(Payload):
    subscription_id: uuid.UUID
    client_id: uuid.UUID


class WebhookSubscriptionDisabled(Payload):
    subscription_id: uuid.UUID
    client_id: uuid.UUID
    owner_id: uuid.UUID
    failing_since: datetime | None = Field(description="Since when every delivery failed.")


# --- Claims (issue 12). ``claim_id`` is also the event's ``aggregate_id``; the claim's own
# events are emitted with ``customer_id=claim.customer_id`` when the catalogue lists them as
# ``customer`` events, and with ``customer_id=None`` when it lists them as ``staff`` events
# (the adjuster's and the money's inner workings: the policyholder never reads them).


class ClaimEvent(Payload):
    claim_id: uuid.UUID
    number: str = Field(description="The claim number.", examples=["PA-C-000123"])


class ClaimReported(ClaimEvent):
    """First notice of loss recorded (a flagged claim too: ``coverage_status`` says so)."""

    policy_id: uuid.UUID
    loss_on: date = Field(description="The loss date coverage is checked on.")
    cause_code: str = Field(examples=["collision"])
    coverage_status: Literal["verified", "flagged"]
    reported_via: Literal["policyholder", "agent", "staff", "api_client"]


class ClaimStatusChanged(ClaimEvent):
    """A move of the claim's workflow (``claims.rules``)."""

    from_: str | None = Field(alias="from", description="The status before.", examples=["open"])
    to: str = Field(description="The status now.", examples=["closed"])
    closed_outcome: Literal["paid", "without_payment", "denied"] | None = Field(
        default=None, description="How it closed, when ``to`` is ``closed``."
    )


class ClaimAssigned(ClaimEvent):
    """An adjuster took the claim: first assignment (by workload or by name) or reassignment."""

    adjuster_id: uuid.UUID
    previous_adjuster_id: uuid.UUID | None = None
    by_workload: bool = Field(description="Chosen as the adjuster with the fewest open claims.")


class ClaimPaymentIssued(ClaimEvent):
    """A payment was posted on one of the claim's exposures (the payee is read via the API)."""

    exposure_id: uuid.UUID
    transaction_id: int = Field(description="The claim transaction posted.")
    cost_type: Literal["indemnity", "expense"]
    amount: Decimal


class ClaimApprovalRequested(ClaimEvent):
    """A reserve or payment above the requester's authority waits for approval."""

    approval_id: uuid.UUID
    exposure_id: uuid.UUID
    kind: Literal["reserve", "payment"]
    amount: Decimal


class ClaimReserveChanged(ClaimEvent):
    """A reserve line's outstanding reserve was set or changed."""

    exposure_id: uuid.UUID
    reserve_line_id: uuid.UUID
    transaction_id: int
    cost_type: Literal["indemnity", "expense"]
    category: str = Field(examples=["body_repair"])
    change: Decimal = Field(description="How the reserve moved (negative: taken down).")
    reserve_after: Decimal


class ClaimRecoveryRecorded(ClaimEvent):
    """Money came back: salvage sold or a subrogation recovery."""

    exposure_id: uuid.UUID
    reserve_line_id: uuid.UUID
    transaction_id: int
    kind: Literal["salvage", "subrogation"]
    amount: Decimal
