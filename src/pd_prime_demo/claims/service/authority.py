"""Authority limits: how much one may reserve on a line, or pay at once, without approval.
Data per role or per user (a user's row overrides their role's), changed through the API and
audited; no row means no authority."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims.enums import CostType
from pd_prime_demo.claims.money_models import AuthorityLimit
from pd_prime_demo.claims.repository import money as repo
from pd_prime_demo.claims.service.common import permission_missing
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, forbidden, invalid
from pd_prime_demo.identity import service as identity

OWN_AUTHORITY = forbidden(
    "claim.own_authority",
    "nobody sets their own authority limits, nor their role's: another configurer does",
)


def _own(actor: Actor, *, role: Role | None, user_id: uuid.UUID | None) -> bool:
    """Whether the row is the actor's own (their user's, through whatever credential) or
    their role's: either would let a configurer raise what they themselves may pay."""
    if user_id is not None:
        return user_id == actor.user_id
    return role is not None and role == actor.role


async def list_authority(
    session: AsyncSession, *, actor: Actor
) -> Result[list[AuthorityLimit], DomainError]:
    """Anyone who pays claims or configures them may read the table."""
    if not (actor.has(Permission.CLAIMS_PAY) or actor.has(Permission.CLAIMS_CONFIGURE)):
        return Err(permission_missing(Permission.CLAIMS_PAY))
    return Ok(await repo.all_authority(session))


async def set_authority(
    session: AsyncSession,
    *,
    role: Role | None,
    user_id: uuid.UUID | None,
    cost_type: CostType,
    reserve_limit: Decimal,
    payment_limit: Decimal,
    actor: Actor,
) -> Result[AuthorityLimit, DomainError]:
    """Set (create or replace) one role's or one user's limits for a cost type."""
    if not actor.has(Permission.CLAIMS_CONFIGURE):
        return Err(permission_missing(Permission.CLAIMS_CONFIGURE))
    if _own(actor, role=role, user_id=user_id):
        return Err(OWN_AUTHORITY)
    if user_id is not None:
        match await identity.get_user(session, user_id):
            case Err():
                return Err(invalid("claim.authority_unknown_user", "no such user"))
            case Ok():
                pass
    # Two administrators creating the same row at once: one after the other.
    await locks.lock(session, f"claim-authority:{role}:{user_id}:{cost_type}")
    row = await repo.authority_row(session, role=role, user_id=user_id, cost_type=cost_type)
    before = None
    now = clock.now()
    if row is None:
        row = AuthorityLimit(
            id=uuid.uuid4(),
            role=role.value if role is not None else None,
            user_id=user_id,
            cost_type=cost_type.value,
            reserve_limit=reserve_limit,
            payment_limit=payment_limit,
            updated_by=actor.id,
            updated_at=now,
        )
        session.add(row)
    else:
        before = {"reserve_limit": str(row.reserve_limit), "payment_limit": str(row.payment_limit)}
        row.reserve_limit = reserve_limit
        row.payment_limit = payment_limit
        row.updated_by = actor.id
        row.updated_at = now
    await session.flush()
    await audit.record(
        session,
        actor,
        "claim.authority_set",
        "claim_authority_limit",
        str(row.id),
        {
            "role": row.role,
            "user_id": str(user_id) if user_id is not None else None,
            "cost_type": cost_type.value,
            "reserve_limit": str(reserve_limit),
            "payment_limit": str(payment_limit),
            "before": before,
        },
    )
    return Ok(row)
