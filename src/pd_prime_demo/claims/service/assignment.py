"""Who handles a claim: the first assignment (by workload when first notice is recorded, or by
hand), reassignment with a reason, and the history of both.

Workload is the number of claims not closed an adjuster holds; the next claim goes to the
active adjuster with the fewest, ties to the lowest user id (so the choice is reproducible).
Assigning a reported claim opens it (``reported -> open``).

A choice by workload is made under one transaction-scoped advisory lock (``ASSIGNMENT_LOCK``),
held until the transaction commits: concurrent first notices choose one after another, each
counting the claims the ones before it committed (under READ COMMITTED the count, read after
the lock is granted, sees them). Without it every FNOL of a burst read the same counts and went
to the same adjuster. The lock is taken last in first notice (its final step) and after the
claim's row lock in the assignment route; the audit chain's lock comes later, at commit, so
the order is always the same.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims import rules
from pd_prime_demo.claims.enums import ClaimStatus
from pd_prime_demo.claims.models import Claim, ClaimAssignment
from pd_prime_demo.claims.repository import workflow as repository
from pd_prime_demo.claims.service.workflow import locked_claim, record_move, refused, touch
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import DomainError, Err, FieldIssue, Ok, Result, invalid
from pd_prime_demo.identity import service as identity

_PAGE = 200
#: The advisory lock (``core.locks``) that serialises choices by workload.
ASSIGNMENT_LOCK = "claims.assignment.workload"

NO_ADJUSTER = invalid(
    "claim.no_adjuster_available",
    "no active adjuster can take the claim",
    FieldIssue("#/adjuster_id", "no active adjuster"),
)
NOT_AN_ADJUSTER = invalid(
    "claim.not_an_adjuster",
    "the user named is not an active adjuster",
    FieldIssue("#/adjuster_id", "not an active adjuster"),
)


async def _adjusters(session: AsyncSession) -> list[uuid.UUID]:
    """The active adjusters' ids (a team, not a book: read a page at a time)."""
    found: list[uuid.UUID] = []
    cursor: str | None = None
    while True:
        match await identity.list_users(session, role=Role.ADJUSTER, cursor=cursor, limit=_PAGE):
            case Ok((users, cursor)):
                found.extend(u.id for u in users if u.is_active)
            case Err():
                return found
        if cursor is None:
            return found


async def least_loaded(
    session: AsyncSession, *, excluding: uuid.UUID | None = None
) -> uuid.UUID | None:
    """The active adjuster with the fewest open claims (ties: the lowest id), or None.

    Takes ``ASSIGNMENT_LOCK`` first (held to the end of the transaction), so the counts
    include every choice committed before this one."""
    await locks.lock(session, ASSIGNMENT_LOCK)
    candidates = [a for a in await _adjusters(session) if a != excluding]
    if not candidates:
        return None
    counts = await repository.open_claim_counts(session, candidates)
    return min(candidates, key=lambda a: (counts.get(a, 0), a))


async def _assign(
    session: AsyncSession,
    claim: Claim,
    adjuster_id: uuid.UUID,
    *,
    reason: str,
    by_workload: bool,
    actor: Actor,
) -> ClaimAssignment:
    previous = claim.adjuster_id
    row = ClaimAssignment(
        claim_id=claim.id,
        adjuster_id=adjuster_id,
        previous_adjuster_id=previous,
        reason=reason,
        actor_id=actor.id,
        at=clock.now(),
    )
    repository.add(session, row)
    claim.adjuster_id = adjuster_id
    touch(claim)
    detail = {
        "adjuster_id": str(adjuster_id),
        "previous_adjuster_id": str(previous) if previous else None,
        "by_workload": by_workload,
    }
    await audit.record(session, actor, "claim.assigned", "claim", str(claim.id), detail)
    # Staff only: the event has no customer (see events.catalogue).
    emit(
        session,
        "claim.assigned",
        "claim",
        str(claim.id),
        {"claim_id": str(claim.id), "number": claim.number, **detail},
    )
    if claim.status == ClaimStatus.REPORTED.value:
        facts = rules.ClaimFacts(ClaimStatus.REPORTED, True, repository.ZERO, 0)
        move = rules.check_move(facts, ClaimStatus.OPEN)
        assert isinstance(move, rules.Move)  # reported -> open with an adjuster always holds
        await record_move(session, claim, move, actor=actor)
    return row


async def assign_on_report(session: AsyncSession, claim: Claim, *, actor: Actor) -> None:
    """At first notice: give the claim to the adjuster with the fewest open claims (it opens);
    with no adjuster available it stays reported, for a supervisor to assign."""
    await session.flush()  # the claim's row exists before its assignment refers to it
    adjuster = await least_loaded(session)
    if adjuster is not None:
        await _assign(session, claim, adjuster, reason="", by_workload=True, actor=actor)
        await session.flush()


async def assign(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    adjuster_id: uuid.UUID | None,
    reason: str,
    expected_version: int | None,
    actor: Actor,
) -> Result[Claim, DomainError]:
    """Assign the claim to ``adjuster_id``, or by workload when None (not to the adjuster it
    already has). A reassignment (the claim has an adjuster) names its reason; a closed claim
    is not reassigned (reopen it first)."""
    match await locked_claim(session, claim_id, expected_version=expected_version, actor=actor):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    reason = reason.strip()
    if claim.status == ClaimStatus.CLOSED.value:
        return Err(
            refused(
                rules.Refusal("claim.closed", "a closed claim is not reassigned: reopen it first")
            )
        )
    if claim.adjuster_id is not None and not reason:
        return Err(
            invalid(
                "claim.reason_required",
                "a reassignment names why",
                FieldIssue("#/reason", "required when the claim has an adjuster"),
            )
        )
    if len(reason) > rules.MAX_REASON:
        return Err(invalid("claim.reason_too_long", f"at most {rules.MAX_REASON} characters"))
    if adjuster_id is None:
        chosen = await least_loaded(session, excluding=claim.adjuster_id)
        if chosen is None:
            return Err(NO_ADJUSTER)
    else:
        if await identity.find_active_user(session, adjuster_id, role=Role.ADJUSTER) is None:
            return Err(NOT_AN_ADJUSTER)
        if adjuster_id == claim.adjuster_id:
            return Err(
                invalid(
                    "claim.already_assigned",
                    "the claim is already that adjuster's",
                    FieldIssue("#/adjuster_id", "the current adjuster"),
                )
            )
        chosen = adjuster_id
    await _assign(
        session, claim, chosen, reason=reason, by_workload=adjuster_id is None, actor=actor
    )
    await session.flush()
    return Ok(claim)
