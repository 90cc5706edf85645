"""What every claims use case shares: finding a claim the actor may see or handle."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims import repository
from pd_prime_demo.claims.models import Claim
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, forbidden, not_found
from pd_prime_demo.customers import service as customers

NOT_FOUND = not_found("claim")


def permission_missing(permission: Permission) -> DomainError:
    return forbidden("auth.permission_missing", f"this requires {permission.value}")


async def get_claim(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    actor: Actor,
    permission: Permission = Permission.CLAIMS_READ,
    for_update: bool = False,
) -> Result[Claim, DomainError]:
    """The claim if ``actor`` may see it (404 otherwise, as for anything not theirs), and 403
    if they see it but lack ``permission`` for what they ask."""
    if not actor.has(Permission.CLAIMS_READ):
        return Err(NOT_FOUND)
    claim = await repository.get(
        session, claim_id, visible_customers=customers.visible_ids(actor), for_update=for_update
    )
    if claim is None:
        return Err(NOT_FOUND)
    if not actor.has(permission):
        return Err(permission_missing(permission))
    return Ok(claim)
