"""Claims rules without I/O: the status workflow.

The moves (issue 12; ClaimCenter's claim lifecycle, simplified):

    reported -> open (an adjuster is assigned)
    open -> under_investigation | closed
    under_investigation -> closed
    closed -> reopened (with a reason)
    reopened -> under_investigation | closed

A claim closes with an outcome: ``paid`` (only when a payment was made on it),
``without_payment`` (only when none was), ``denied`` (with the reason, which the policyholder
reads). Nothing closes while an approval is pending: the money it waits on would be decided on
a closed claim. Reopening names why.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pd_prime_demo.claims.enums import ClaimStatus, ClosedOutcome

S = ClaimStatus

MOVES: dict[ClaimStatus, frozenset[ClaimStatus]] = {
    S.REPORTED: frozenset({S.OPEN}),
    S.OPEN: frozenset({S.UNDER_INVESTIGATION, S.CLOSED}),
    S.UNDER_INVESTIGATION: frozenset({S.CLOSED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REOPENED: frozenset({S.UNDER_INVESTIGATION, S.CLOSED}),
}

# Statuses an adjuster's workload counts: every claim not closed.
OPEN_STATUSES: frozenset[ClaimStatus] = frozenset(s for s in ClaimStatus if s is not S.CLOSED)

MAX_REASON = 2000


def allowed_moves(status: ClaimStatus) -> list[str]:
    """Where a claim in ``status`` may go, in the workflow's order (for error messages)."""
    order = list(ClaimStatus)
    return [s.value for s in sorted(MOVES[status], key=order.index)]


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """What the checks need to know of the claim beyond its status."""

    status: ClaimStatus
    has_adjuster: bool
    paid: Decimal  # the total ever paid on the claim (payments, not net of recoveries)
    pending_approvals: int


@dataclass(frozen=True, slots=True)
class Move:
    """An accepted move: what the status history records."""

    from_status: ClaimStatus
    to_status: ClaimStatus
    outcome: ClosedOutcome | None
    reason: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a move is refused: ``code`` is the error's, ``allowed`` the moves the claim has."""

    code: str
    message: str
    field: str | None = None
    allowed: tuple[str, ...] = ()
    conflict: bool = True  # the claim's state refuses it (409), not the request's form (422)


def check_move(
    facts: ClaimFacts,
    target: ClaimStatus,
    *,
    outcome: ClosedOutcome | None = None,
    reason: str = "",
) -> Move | Refusal:
    """The move of a claim in ``facts`` to ``target``, or why not."""
    reason = reason.strip()
    current = facts.status
    allowed = tuple(allowed_moves(current))
    if len(reason) > MAX_REASON:
        return Refusal(
            "claim.reason_too_long",
            f"a reason has at most {MAX_REASON} characters",
            "reason",
            conflict=False,
        )
    if target is not S.CLOSED and outcome is not None:
        return Refusal(
            "claim.outcome_not_closing",
            "an outcome is given only when closing",
            "outcome",
            conflict=False,
        )
    if target not in MOVES[current]:
        where = ", ".join(allowed) or "nowhere"
        return Refusal(
            "claim.invalid_transition",
            f"a claim {current.value} cannot move to {target.value}; it may move to: {where}",
            "status",
            allowed,
        )
    match target:
        case S.OPEN if not facts.has_adjuster:
            return Refusal(
                "claim.no_adjuster",
                "a claim opens when an adjuster is assigned: assign one",
                allowed=allowed,
            )
        case S.REOPENED if not reason:
            return Refusal("claim.reason_required", "reopening names why", "reason", conflict=False)
        case S.CLOSED:
            if (refused := _closing(facts, outcome, reason)) is not None:
                return refused
    return Move(current, target, outcome if target is S.CLOSED else None, reason)


def _closing(facts: ClaimFacts, outcome: ClosedOutcome | None, reason: str) -> Refusal | None:
    if outcome is None:
        return Refusal(
            "claim.outcome_required",
            "closing names the outcome: paid, without_payment or denied",
            "outcome",
            conflict=False,
        )
    if outcome is ClosedOutcome.DENIED and not reason:
        return Refusal(
            "claim.reason_required", "a denial gives its reason", "reason", conflict=False
        )
    if outcome is ClosedOutcome.PAID and facts.paid <= 0:
        return Refusal("claim.no_payment", "closing as paid needs a payment on the claim")
    if outcome is ClosedOutcome.WITHOUT_PAYMENT and facts.paid > 0:
        return Refusal(
            "claim.has_payments", "a claim with payments closes as paid, not without payment"
        )
    if facts.pending_approvals:
        return Refusal(
            "claim.approvals_pending",
            f"{facts.pending_approvals} approval(s) are pending: decide or withdraw them first",
        )
    return None


def closed_outcome(outcome: str | None) -> ClosedOutcome | None:
    return ClosedOutcome(outcome) if outcome is not None else None
