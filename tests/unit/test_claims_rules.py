"""The claim status workflow (claims.rules): every pair of statuses, the conditions on closing
and reopening, and random sequences of moves."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise, product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pd_prime_demo.claims.enums import ClaimStatus, ClosedOutcome
from pd_prime_demo.claims.rules import (
    MOVES,
    OPEN_STATUSES,
    ClaimFacts,
    Move,
    Refusal,
    allowed_moves,
    check_move,
)

S = ClaimStatus
Out = ClosedOutcome

# The workflow of issue 12, written out independently of rules.MOVES.
EXPECTED = {
    (S.REPORTED, S.OPEN),
    (S.OPEN, S.UNDER_INVESTIGATION),
    (S.OPEN, S.CLOSED),
    (S.UNDER_INVESTIGATION, S.CLOSED),
    (S.CLOSED, S.REOPENED),
    (S.REOPENED, S.UNDER_INVESTIGATION),
    (S.REOPENED, S.CLOSED),
}


def facts(
    status: ClaimStatus,
    *,
    adjuster: bool = True,
    paid: str = "0",
    pending: int = 0,
) -> ClaimFacts:
    return ClaimFacts(status, adjuster, Decimal(paid), pending)


def easiest(source: ClaimStatus, target: ClaimStatus) -> Move | Refusal:
    """The move with everything it could need: an adjuster, a reason, an outcome that fits."""
    outcome = Out.WITHOUT_PAYMENT if target is S.CLOSED else None
    return check_move(facts(source), target, outcome=outcome, reason="because")


@pytest.mark.parametrize(("source", "target"), list(product(ClaimStatus, ClaimStatus)))
def test_every_pair_of_statuses(source: ClaimStatus, target: ClaimStatus) -> None:
    result = easiest(source, target)
    if (source, target) in EXPECTED:
        assert result == Move(
            source, target, Out.WITHOUT_PAYMENT if target is S.CLOSED else None, "because"
        )
    else:
        assert isinstance(result, Refusal)
        assert result.code == "claim.invalid_transition"
        assert result.conflict
        assert set(result.allowed) == {t.value for s, t in EXPECTED if s is source}
        for allowed in result.allowed:
            assert allowed in result.message


def test_the_table_is_the_workflow() -> None:
    assert {(s, t) for s, targets in MOVES.items() for t in targets} == EXPECTED
    assert allowed_moves(S.OPEN) == ["under_investigation", "closed"]
    assert frozenset(ClaimStatus) - {S.CLOSED} == OPEN_STATUSES


def test_a_claim_opens_only_with_an_adjuster() -> None:
    refused = check_move(facts(S.REPORTED, adjuster=False), S.OPEN)
    assert isinstance(refused, Refusal)
    assert refused.code == "claim.no_adjuster"
    assert isinstance(check_move(facts(S.REPORTED), S.OPEN), Move)


@pytest.mark.parametrize("source", [S.OPEN, S.UNDER_INVESTIGATION, S.REOPENED])
def test_closing_names_its_outcome(source: ClaimStatus) -> None:
    refused = check_move(facts(source), S.CLOSED)
    assert isinstance(refused, Refusal)
    assert (refused.code, refused.field, refused.conflict) == (
        "claim.outcome_required",
        "outcome",
        False,
    )


@pytest.mark.parametrize("reason", ["", "   ", "\n"])
def test_a_denial_gives_its_reason(reason: str) -> None:
    refused = check_move(facts(S.OPEN), S.CLOSED, outcome=Out.DENIED, reason=reason)
    assert isinstance(refused, Refusal)
    assert refused.code == "claim.reason_required"
    accepted = check_move(facts(S.OPEN), S.CLOSED, outcome=Out.DENIED, reason=" Wear and tear ")
    assert accepted == Move(S.OPEN, S.CLOSED, Out.DENIED, "Wear and tear")


def test_closing_as_paid_needs_a_payment_and_without_payment_none() -> None:
    unpaid = check_move(facts(S.OPEN), S.CLOSED, outcome=Out.PAID)
    assert isinstance(unpaid, Refusal)
    assert unpaid.code == "claim.no_payment"
    assert unpaid.conflict
    paid = check_move(facts(S.OPEN, paid="0.01"), S.CLOSED, outcome=Out.PAID)
    assert isinstance(paid, Move)
    assert paid.outcome is Out.PAID
    lying = check_move(facts(S.OPEN, paid="10"), S.CLOSED, outcome=Out.WITHOUT_PAYMENT)
    assert isinstance(lying, Refusal)
    assert lying.code == "claim.has_payments"
    # A denial after expense payments (an inspection, a lawyer) is still a denial.
    denied = check_move(facts(S.OPEN, paid="10"), S.CLOSED, outcome=Out.DENIED, reason="fraud")
    assert isinstance(denied, Move)


def test_nothing_closes_with_an_approval_pending() -> None:
    refused = check_move(
        facts(S.UNDER_INVESTIGATION, paid="5", pending=2), S.CLOSED, outcome=Out.PAID
    )
    assert isinstance(refused, Refusal)
    assert refused.code == "claim.approvals_pending"
    assert "2" in refused.message


def test_reopening_names_why() -> None:
    refused = check_move(facts(S.CLOSED), S.REOPENED)
    assert isinstance(refused, Refusal)
    assert refused.code == "claim.reason_required"
    assert check_move(facts(S.CLOSED), S.REOPENED, reason="new invoice") == Move(
        S.CLOSED, S.REOPENED, None, "new invoice"
    )


def test_an_outcome_only_when_closing_and_reasons_are_bounded() -> None:
    refused = check_move(facts(S.OPEN), S.UNDER_INVESTIGATION, outcome=Out.PAID)
    assert isinstance(refused, Refusal)
    assert refused.code == "claim.outcome_not_closing"
    too_long = check_move(facts(S.CLOSED), S.REOPENED, reason="x" * 2001)
    assert isinstance(too_long, Refusal)
    assert too_long.code == "claim.reason_too_long"


STEP = st.tuples(
    st.sampled_from(list(ClaimStatus)),
    st.none() | st.sampled_from(list(ClosedOutcome)),
    st.sampled_from(["", "a reason"]),
    st.sampled_from(["0", "125.00"]),
    st.sampled_from([0, 1]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(STEP, max_size=25))
def test_random_sequences_of_moves_stay_in_the_workflow(
    steps: list[tuple[ClaimStatus, ClosedOutcome | None, str, str, int]],
) -> None:
    """Whatever is asked in whatever order: a claim only ever takes the workflow's moves, is
    closed exactly when it has an outcome, a denial always has its reason, and a refused move
    changes nothing."""
    status, outcome = S.REPORTED, None
    path = [status]
    for target, asked_outcome, reason, paid, pending in steps:
        result = check_move(
            facts(status, paid=paid, pending=pending), target, outcome=asked_outcome, reason=reason
        )
        if isinstance(result, Move):
            assert (status, target) in EXPECTED
            assert result.from_status is status
            assert result.to_status is target
            if target is S.CLOSED:
                assert result.outcome is asked_outcome is not None
                assert pending == 0
                assert (result.outcome is Out.PAID) <= (Decimal(paid) > 0)
                assert (result.outcome is Out.WITHOUT_PAYMENT) <= (Decimal(paid) == 0)
                assert (result.outcome is Out.DENIED) <= bool(result.reason)
            else:
                assert result.outcome is None
            if target is S.REOPENED:
                assert result.reason
            status, outcome = target, result.outcome
            path.append(status)
        else:
            assert isinstance(result, Refusal)
            assert result.allowed == () or set(result.allowed) == {
                t.value for s, t in EXPECTED if s is status
            }
        assert (status is S.CLOSED) == (outcome is not None)
    assert all((a, b) in EXPECTED for a, b in pairwise(path))


@given(st.sampled_from(list(ClaimStatus)))
def test_every_status_can_reach_closed(status: ClaimStatus) -> None:
    seen, frontier = {status}, [status]
    while frontier:
        for nxt in MOVES[frontier.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    assert S.CLOSED in seen  # from closed itself: reopened, then closed again
    assert all(S.REPORTED not in targets for targets in MOVES.values())  # never back
