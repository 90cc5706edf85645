"""The policy vocabulary: statuses, transaction kinds and reasons."""

from __future__ import annotations

import enum


class PolicyStatus(enum.StrEnum):
    """The status a transaction puts in force."""

    IN_FORCE = "in_force"
    CANCELLED = "cancelled"


class StatusOn(enum.StrEnum):
    """What a policy is on a given day, derived from its history."""

    IN_FORCE = "in_force"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    NOT_YET_EFFECTIVE = "not_yet_effective"


class TransactionKind(enum.StrEnum):
    NEW_BUSINESS = "new_business"
    ENDORSEMENT = "endorsement"
    CANCELLATION = "cancellation"
    REINSTATEMENT = "reinstatement"
    RENEWAL = "renewal"
    NON_RENEWAL = "non_renewal"


class CancellationReason(enum.StrEnum):
    INSURED_REQUEST = "insured_request"
    NON_PAYMENT = "non_payment"
    UNDERWRITING = "underwriting"


class RenewalStatus(enum.StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    LAPSED = "lapsed"
