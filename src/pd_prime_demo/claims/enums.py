"""Claims' vocabulary: statuses, channels, parties, cost types, money movements."""

from __future__ import annotations

import enum


class ClaimStatus(enum.StrEnum):
    """The workflow (``claims.rules`` holds the allowed moves)."""

    REPORTED = "reported"  # first notice recorded, nobody assigned yet
    OPEN = "open"  # an adjuster is assigned
    UNDER_INVESTIGATION = "under_investigation"
    CLOSED = "closed"  # with a ClosedOutcome
    REOPENED = "reopened"


class ClosedOutcome(enum.StrEnum):
    PAID = "paid"
    WITHOUT_PAYMENT = "without_payment"
    DENIED = "denied"  # with a reason


class ReportedVia(enum.StrEnum):
    """Who gave the first notice: decided by the actor, not by the request."""

    POLICYHOLDER = "policyholder"
    AGENT = "agent"
    STAFF = "staff"
    API_CLIENT = "api_client"


class CoverageStatus(enum.StrEnum):
    VERIFIED = "verified"  # in force on the loss date and the cause maps to a coverage it had
    FLAGGED = "flagged"  # recorded, but a finding says why cover is in doubt


class PartyRole(enum.StrEnum):
    INSURED = "insured"
    CLAIMANT = "claimant"
    DRIVER = "driver"
    PASSENGER = "passenger"
    WITNESS = "witness"
    OTHER = "other"


class InvolvedKind(enum.StrEnum):
    VEHICLE = "vehicle"
    PROPERTY = "property"


class ExposureStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CostType(enum.StrEnum):
    INDEMNITY = "indemnity"  # loss: counts against the exposure's limit
    EXPENSE = "expense"  # loss adjustment expense (LAE): outside the limit


class MoneyKind(enum.StrEnum):
    """A posted financial transaction on a reserve line (``claim_transactions.kind``)."""

    RESERVE = "reserve"  # the reserve set or changed (amount is the change)
    PAYMENT = "payment"
    SALVAGE = "salvage"  # a recovery: the damaged property sold
    SUBROGATION = "subrogation"  # a recovery: from the party at fault or their insurer


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # and posted
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class DiaryStatus(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class TriangleMeasure(enum.StrEnum):
    PAID = "paid"
    INCURRED = "incurred"
    REPORTED_COUNT = "reported_count"


class TriangleSource(enum.StrEnum):
    BUILT = "built"  # from the claims' own transactions at a valuation date
    IMPORTED = "imported"  # a historical triangle uploaded as CSV
