"""Reading customers: one by id, a searched page, and the mailing label on documents."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, not_found
from pd_prime_demo.customers import repository
from pd_prime_demo.customers.models import Customer

NOT_FOUND = not_found("customer")


async def get_customer(
    session: AsyncSession, customer_id: uuid.UUID, *, actor: Actor, for_update: bool = False
) -> Result[Customer, DomainError]:
    """The customer, or 404 when it does not exist or ``actor`` may not see it."""
    customer = await repository.get(session, customer_id, actor=actor, for_update=for_update)
    return Ok(customer) if customer is not None else Err(NOT_FOUND)


async def list_customers(
    session: AsyncSession,
    *,
    actor: Actor,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[Customer], str | None], DomainError]:
    return await repository.search(session, actor=actor, q=q, cursor=cursor, limit=limit)


async def customer_ids_by_email(session: AsyncSession, email: str) -> list[uuid.UUID]:
    """Whose address on file ``email`` is (exact, case-insensitive). For the system's own
    lookups (a data subject request's intake): no actor's visibility applies."""
    return await repository.ids_by_email(session, email)


async def mailing_block(
    session: AsyncSession, customer_id: uuid.UUID
) -> tuple[str, tuple[str, ...]] | None:
    """The customer's name and postal address as lines for an envelope window ("1 Main St",
    "Apt 2", "Austin, TX 78701"). For the system's own documents: no actor's visibility
    applies, and no other PII is read."""
    row = await repository.mailing_address(session, customer_id)
    if row is None:
        return None
    lines = [x for x in (row.address_line1, row.address_line2) if x]
    return row.display_name, (*lines, f"{row.city}, {row.state} {row.postal_code}")


async def mailing_label(session: AsyncSession, customer_id: uuid.UUID) -> tuple[str, str] | None:
    """The customer's name and one-line mailing address, as printed on documents (no other
    PII is read). For the system's own documents: no actor's visibility applies."""
    row = await repository.mailing_address(session, customer_id)
    if row is None:
        return None
    street = ", ".join(x for x in (row.address_line1, row.address_line2) if x)
    return row.display_name, f"{street}, {row.city}, {row.state} {row.postal_code}"
