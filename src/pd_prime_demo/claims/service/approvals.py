"""Approvals: a reserve or payment above its requester's authority, decided by someone else
whose authority covers it. Approving posts it, checked again (claim open, limits, authority)
under the claim's row lock at that moment; a pending approval holds no room under the limits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims.enums import ApprovalStatus, CostType, MoneyKind
from pd_prime_demo.claims.money_models import Approval, ClaimTransaction
from pd_prime_demo.claims.repository import money as repo
from pd_prime_demo.claims.service.common import get_claim, permission_missing
from pd_prime_demo.claims.service.money import (
    authority_covers,
    open_for_money,
    post_payment,
    post_reserve_change,
)
from pd_prime_demo.claims.service.payments import check_indemnity, count_payment_issued
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    Ok,
    Result,
    conflict,
    forbidden,
    invalid,
    not_found,
)
from pd_prime_demo.customers import service as customers

APPROVAL_NOT_FOUND = not_found("approval", "claim.approval_not_found")
SELF_APPROVAL = forbidden(
    "claim.self_approval", "an approval is decided by someone other than its requester"
)
AUTHORITY_SHORT = forbidden(
    "claim.authority_insufficient", "your authority does not cover this amount"
)
DECIDED = conflict("claim.approval_decided", "the approval was already decided")
RESERVE_MOVED = conflict(
    "claim.reserve_moved",
    "the line's reserve changed since this approval was asked: reject it and ask again",
)


def _same_person(approval: Approval, actor: Actor) -> bool:
    """Whether the actor is the requester: the same credential, or the same person through
    another one (their login, an API key or an API client of theirs)."""
    if approval.requested_by == actor.id:
        return True
    return approval.requested_by_user_id is not None and (
        approval.requested_by_user_id == actor.user_id
    )


@dataclass(frozen=True, slots=True)
class Decided:
    approval: Approval
    transactions: list[ClaimTransaction] = field(default_factory=list)


async def get_approval(
    session: AsyncSession,
    approval_id: uuid.UUID,
    *,
    actor: Actor,
    for_update: bool = False,
) -> Result[Approval, DomainError]:
    """The approval, if the actor may handle the claim's money (404 otherwise); with
    ``for_update`` the claim's row lock is taken first, then the approval's."""
    found = await repo.approval(session, approval_id)
    if found is None:
        return Err(APPROVAL_NOT_FOUND)
    match await get_claim(
        session,
        found.claim_id,
        actor=actor,
        permission=Permission.CLAIMS_PAY,
        for_update=for_update,
    ):
        case Err(error) if error.code == "auth.permission_missing":
            return Err(error)
        case Err():
            return Err(APPROVAL_NOT_FOUND)
        case Ok():
            pass
    if for_update:
        found = await repo.approval(session, approval_id, for_update=True)
        if found is None:
            return Err(APPROVAL_NOT_FOUND)
    return Ok(found)


async def list_approvals(
    session: AsyncSession,
    *,
    claim_id: uuid.UUID | None,
    status: ApprovalStatus | None,
    cursor: str | None,
    limit: int,
    actor: Actor,
) -> Result[tuple[list[Approval], str | None], DomainError]:
    """The approval queue (oldest first), or one claim's approvals."""
    if not actor.has(Permission.CLAIMS_PAY):
        return Err(permission_missing(Permission.CLAIMS_PAY))
    if claim_id is not None:
        match await get_claim(session, claim_id, actor=actor, permission=Permission.CLAIMS_PAY):
            case Err() as err:
                return err
            case Ok():
                pass
    query = repo.approvals_query(
        claim_id=claim_id, status=status, visible_customers=customers.visible_ids(actor)
    )
    return await keyset_page(
        session,
        query,
        cursor=cursor,
        limit=limit,
        keys=[Approval.requested_at, Approval.id],
    )


async def decide(
    session: AsyncSession,
    approval_id: uuid.UUID,
    *,
    approve: bool,
    note: str | None,
    actor: Actor,
) -> Result[Decided, DomainError]:
    """Approve (post it) or reject a pending approval."""
    match await get_approval(session, approval_id, actor=actor, for_update=True):
        case Err() as err:
            return err
        case Ok(approval):
            pass
    if approval.status != ApprovalStatus.PENDING:
        return Err(DECIDED)
    if _same_person(approval, actor):
        return Err(SELF_APPROVAL)
    line = await repo.reserve_line_by_id(session, approval.reserve_line_id)
    claim = await get_claim(
        session, approval.claim_id, actor=actor, permission=Permission.CLAIMS_PAY
    )
    exposure = await repo.exposure(session, approval.claim_id, approval.exposure_id)
    if line is None or exposure is None or not isinstance(claim, Ok):
        return Err(APPROVAL_NOT_FOUND)
    cost_type = CostType(line.cost_type)
    kind = MoneyKind(approval.kind)
    if not await authority_covers(session, actor, line, kind, approval.amount):
        return Err(AUTHORITY_SHORT)
    posted: list[ClaimTransaction] = []
    if approve:
        if (closed := open_for_money(claim.value, exposure)) is not None:
            return Err(closed)
        if kind is MoneyKind.RESERVE and line.reserve != approval.reserve_before:
            # Asked to take the reserve from one figure to another: someone moved it since, so
            # the request no longer says what it meant. It stays pending, to be rejected.
            return Err(RESERVE_MOVED)
        if kind is MoneyKind.RESERVE:
            change = approval.amount - line.reserve
            if change == 0:
                return Err(invalid("claim.reserve_unchanged", "the reserve is already that"))
            posted = [
                await post_reserve_change(
                    session,
                    claim.value,
                    line,
                    change,
                    reason=approval.reason,
                    actor=actor,
                    approval_id=approval.id,
                )
            ]
        else:
            if cost_type is CostType.INDEMNITY and (
                refused := await check_indemnity(session, claim.value, exposure, approval.amount)
            ):
                return Err(refused)
            posted = await post_payment(
                session,
                claim.value,
                line,
                approval.amount,
                payee=approval.payee or "",
                reason=approval.reason,
                actor=actor,
                approval_id=approval.id,
            )
            count_payment_issued(session, approval.amount)
    approval.status = (ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED).value
    approval.decided_by = actor.id
    approval.decided_by_user_id = actor.user_id
    approval.decided_at = clock.now()
    approval.decision_note = note
    await session.flush()
    await audit.record(
        session,
        actor,
        "claim.approval_approved" if approve else "claim.approval_rejected",
        "claim",
        str(approval.claim_id),
        {
            "approval_id": str(approval.id),
            "kind": approval.kind,
            "amount": str(approval.amount),
            "transaction_ids": [row.id for row in posted],
        },
    )
    return Ok(Decided(approval, posted))


async def pending_approvals(session: AsyncSession, claim_id: uuid.UUID) -> int:
    """How many of the claim's approvals wait (a claim does not close while any does)."""
    return await repo.count_pending(session, claim_id)
