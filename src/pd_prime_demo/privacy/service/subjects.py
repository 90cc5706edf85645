"""Whose data: the customer record a login owns, and who may act for a customer in privacy
matters (the person themself, or staff with privacy:manage)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor, ActorKind, Permission, Role
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, not_found
from pd_prime_demo.customers import service as customers
from pd_prime_demo.privacy.enums import Source

NO_CUSTOMER_RECORD = not_found("customer", "privacy.no_customer_record")
_SYSTEM = Actor.system("privacy")


def is_staff(actor: Actor) -> bool:
    return actor.has(Permission.PRIVACY_MANAGE)


async def own_customer(session: AsyncSession, actor: Actor) -> uuid.UUID | None:
    """The customer record ``actor``'s login owns (a policyholder's), if any."""
    if actor.role is not Role.CUSTOMER or actor.user_id is None:
        return None
    match await customers.list_customers(session, actor=actor, q=None, cursor=None, limit=1):
        case Ok((found, _)) if found:
            return found[0].id
        case _:
            return None


async def exists(session: AsyncSession, customer_id: uuid.UUID) -> bool:
    return await customers.may_see(session, customer_id, actor=_SYSTEM)


async def acting_for(
    session: AsyncSession, customer_id: uuid.UUID, *, actor: Actor
) -> Result[uuid.UUID, DomainError]:
    """``customer_id`` when ``actor`` may act on that person's privacy matters: their own, or
    anyone's with privacy:manage. 404 otherwise, as for a customer that does not exist."""
    if is_staff(actor):
        return Ok(customer_id) if await exists(session, customer_id) else Err(customers.NOT_FOUND)
    if await own_customer(session, actor) == customer_id:
        return Ok(customer_id)
    return Err(customers.NOT_FOUND)


def source_of(actor: Actor, *, own: bool) -> Source:
    """Where a consent change comes from: the person at the portal, an app acting for them,
    or staff recording the person's instruction."""
    if actor.kind in (ActorKind.CLIENT, ActorKind.API_KEY) or actor.delegated_to is not None:
        return Source.API
    return Source.PORTAL if own else Source.AGENT


async def customer_ids_by_email(session: AsyncSession, email: str) -> list[uuid.UUID]:
    """The customers whose address on file is ``email`` (the public intake's lookup)."""
    return await customers.customer_ids_by_email(session, email)
