"""Referred policy changes: the underwriting queue of endorsements, and the decision on one.

An underwriter with the authority the triggered rules need approves (the change is applied to
the policy as it stands then, out of sequence if later transactions came meanwhile) or
declines it with a note. Both are audited and published.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    Ok,
    Result,
    conflict,
    forbidden,
    not_found,
)
from pd_prime_demo.customers import service as customers
from pd_prime_demo.policies import repository
from pd_prime_demo.policies.enums import ChangeStatus, ConflictResolution, TransactionKind
from pd_prime_demo.policies.models import PolicyChange
from pd_prime_demo.policies.service.common import get_policy, writable_policy
from pd_prime_demo.policies.service.intents import Intent
from pd_prime_demo.policies.service.sequence import change

NOT_FOUND = not_found("policy_change")


async def get_change(
    session: AsyncSession, change_id: uuid.UUID, *, actor: Actor, for_update: bool = False
) -> Result[PolicyChange, DomainError]:
    """The change if ``actor`` may see its policy; 404 otherwise."""
    found = await repository.policy_change(session, change_id, for_update=for_update)
    if found is None or isinstance(await get_policy(session, found.policy_id, actor=actor), Err):
        return Err(NOT_FOUND)
    return Ok(found)


async def referred(
    session: AsyncSession, *, actor: Actor, cursor: str | None = None, limit: int
) -> Result[tuple[list[PolicyChange], str | None], DomainError]:
    """Referred changes this underwriter may decide, oldest first."""
    if not actor.has(Permission.UNDERWRITING_DECIDE):
        return Err(forbidden("auth.permission_missing", "this requires underwriting:decide"))
    return await repository.referred_changes(
        session,
        authority=actor.authority,
        visible_customers=customers.visible_ids(actor),
        cursor=cursor,
        limit=limit,
    )


async def decide(
    session: AsyncSession,
    change_id: uuid.UUID,
    *,
    approve: bool,
    note: str,
    actor: Actor,
) -> Result[PolicyChange, DomainError]:
    if not actor.has(Permission.UNDERWRITING_DECIDE):
        return Err(forbidden("auth.permission_missing", "this requires underwriting:decide"))
    match await get_change(session, change_id, actor=actor, for_update=True):
        case Err() as err:
            return err
        case Ok(pending):
            pass
    if pending.status != ChangeStatus.REFERRED:
        return Err(conflict("policy_change.not_referred", f"this change is {pending.status}"))
    if actor.authority < pending.required_authority:
        return Err(
            forbidden(
                "underwriting.insufficient_authority",
                f"this change needs authority {pending.required_authority}; "
                f"yours is {actor.authority}",
            )
        )
    if approve:
        match await writable_policy(session, pending.policy_id, actor=actor):
            case Err() as err:
                return err
            case Ok(policy):
                pass
        request = pending.request
        intent = Intent(
            TransactionKind(pending.kind), pending.effective_on, request["data"], request["note"]
        )
        match await change(
            session,
            policy,
            intent,
            actor=actor,
            on_conflict=ConflictResolution(request["on_conflict"]),
        ):
            case Err() as err:
                return err
            case Ok(applied):
                pending.transaction_id = applied.transaction.id
    pending.status = ChangeStatus.APPLIED if approve else ChangeStatus.DECLINED
    pending.decided_by = actor.id
    pending.decided_at = clock.now()
    pending.decision_note = note
    detail = {"change_id": str(pending.id), "decision": "approve" if approve else "decline"}
    action = f"policy.change_{pending.status}"
    await audit.record(session, actor, action, "policy", str(pending.policy_id), detail)
    emit(session, action, "policy", str(pending.policy_id), detail)
    return Ok(pending)
