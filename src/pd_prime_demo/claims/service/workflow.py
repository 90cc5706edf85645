"""The claim's status workflow: a move checked by ``claims.rules``, recorded in the status
history, audited and announced (``claim.status_changed``) in the same transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims import rules
from pd_prime_demo.claims.enums import ClaimStatus, ClosedOutcome
from pd_prime_demo.claims.models import Claim, ClaimStatusChange
from pd_prime_demo.claims.repository import workflow as repository
from pd_prime_demo.claims.service.common import get_claim
from pd_prime_demo.claims.service.exposures import close_reserves
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    ErrorKind,
    FieldIssue,
    Ok,
    Result,
    stale_version,
)


def touch(claim: Claim) -> None:
    """Every change of a claim moves its version (the ETag) on."""
    claim.version += 1
    claim.updated_at = clock.now()


def check_version(claim: Claim, expected: int | None) -> Result[None, DomainError]:
    """``expected`` from If-Match (None: ``*``) against the claim's version (412 if stale)."""
    if expected is not None and expected != claim.version:
        return Err(stale_version("claim"))
    return Ok(None)


def refused(refusal: rules.Refusal) -> DomainError:
    extra: dict[str, Any] = {}
    if refusal.allowed or refusal.code == "claim.invalid_transition":
        extra["allowed_moves"] = list(refusal.allowed)
    issues = (FieldIssue(f"#/{refusal.field}", refusal.message),) if refusal.field else ()
    kind = ErrorKind.CONFLICT if refusal.conflict else ErrorKind.INVALID
    return DomainError(kind, refusal.code, refusal.message, issues, extra)


async def facts_of(session: AsyncSession, claim: Claim) -> rules.ClaimFacts:
    return rules.ClaimFacts(
        status=ClaimStatus(claim.status),
        has_adjuster=claim.adjuster_id is not None,
        paid=await repository.paid_total(session, claim.id),
        pending_approvals=await repository.pending_approvals(session, claim.id),
    )


async def record_move(
    session: AsyncSession, claim: Claim, move: rules.Move, *, actor: Actor
) -> ClaimStatusChange:
    """Apply an accepted move to the claim: header, history row, audit and outbox."""
    now = clock.now()
    claim.status = move.to_status.value
    claim.closed_outcome = move.outcome.value if move.outcome is not None else None
    if move.to_status is ClaimStatus.CLOSED:
        claim.denial_reason = move.reason if move.outcome is ClosedOutcome.DENIED else None
    elif move.to_status is ClaimStatus.REOPENED:
        claim.denial_reason = None
    touch(claim)
    change = ClaimStatusChange(
        claim_id=claim.id,
        from_status=move.from_status.value,
        to_status=move.to_status.value,
        closed_outcome=claim.closed_outcome,
        reason=move.reason,
        actor_id=actor.id,
        at=now,
    )
    repository.add(session, change)
    detail: dict[str, Any] = {"from": move.from_status.value, "to": move.to_status.value}
    if move.outcome is not None:
        detail["closed_outcome"] = move.outcome.value
    await audit.record(session, actor, "claim.status_changed", "claim", str(claim.id), detail)
    emit(
        session,
        "claim.status_changed",
        "claim",
        str(claim.id),
        {"claim_id": str(claim.id), "number": claim.number, **detail},
        customer_id=claim.customer_id,
    )
    return change


async def locked_claim(
    session: AsyncSession, claim_id: uuid.UUID, *, expected_version: int | None, actor: Actor
) -> Result[Claim, DomainError]:
    """The claim to handle, its row locked, at the version the caller read (else 412)."""
    found = await get_claim(
        session, claim_id, actor=actor, permission=Permission.CLAIMS_ADJUST, for_update=True
    )
    if isinstance(found, Ok) and isinstance(
        stale := check_version(found.value, expected_version), Err
    ):
        return stale
    return found


async def change_status(
    session: AsyncSession,
    claim_id: uuid.UUID,
    target: ClaimStatus,
    *,
    outcome: ClosedOutcome | None = None,
    reason: str = "",
    expected_version: int | None,
    actor: Actor,
) -> Result[Claim, DomainError]:
    """Move the claim to ``target``. The claim's row is locked first, so the facts checked
    (payments, pending approvals) cannot change before the move commits."""
    match await locked_claim(session, claim_id, expected_version=expected_version, actor=actor):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    match rules.check_move(await facts_of(session, claim), target, outcome=outcome, reason=reason):
        case rules.Refusal() as refusal:
            return Err(refused(refusal))
        case rules.Move() as move:
            pass
    if move.to_status is ClaimStatus.CLOSED:
        # A closed claim has no case reserve outstanding: what remains is taken down to zero
        # (posted on the ledger by the money part, under the row lock taken above).
        await close_reserves(session, claim, actor=actor)
    await record_move(session, claim, move, actor=actor)
    await session.flush()
    return Ok(claim)
