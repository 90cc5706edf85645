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
    # Undoes a later transaction so that an out-of-sequence change can go in before it; the
    # reversed transaction is then re-applied on top as a new one.
    REVERSAL = "reversal"


class CancellationReason(enum.StrEnum):
    INSURED_REQUEST = "insured_request"
    NON_PAYMENT = "non_payment"
    UNDERWRITING = "underwriting"


class RenewalStatus(enum.StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    LAPSED = "lapsed"


class ConflictResolution(enum.StrEnum):
    """What an out-of-sequence change does when a later transaction touched the same fields."""

    REFUSE = "refuse"  # answer 409 listing the conflicts
    KEEP_LATER = "keep_later"  # the later transaction's values win from its own date
    APPLY_NEW = "apply_new"  # the new values hold on; later changes to them are dropped


class ChangeStatus(enum.StrEnum):
    """A policy change request that underwriting had to see."""

    REFERRED = "referred"
    APPLIED = "applied"
    DECLINED = "declined"
