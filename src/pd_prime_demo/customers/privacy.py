"""The customer record's part in privacy requests: read it whole, or replace what identifies
the person (called by ``privacy.service``; the rules of what to replace are privacy's)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.customers.enums import CustomerKind
from pd_prime_demo.customers.models import Customer

# What a scrubbed record holds instead: obviously not a person, and an address that can never
# deliver (RFC 2606 reserves .invalid), unique per customer so the e-mail index stays useful.
ERASED_NAME = "Erased"

# Government ids a CCPA answer must not disclose (11 CCR 7024(d)): shown held and masked, and
# listed as withheld (``privacy.retention_rules.WithheldReason`` value). Field names as the
# export writes them (the sealed column's name without ``_enc``).
GOVERNMENT_IDS: dict[str, frozenset[str]] = {
    "customers": frozenset({"ssn", "drivers_license_number"}),
}
GOVERNMENT_ID = "government_id"


def erased_email(customer_id: uuid.UUID) -> str:
    return f"erased-{customer_id}@erased.invalid"


async def get(session: AsyncSession, customer_id: uuid.UUID) -> Customer | None:
    """The customer row, locked: an erasure must not race an update of the same person."""
    return await session.scalar(
        select(Customer).where(Customer.id == customer_id).with_for_update()
    )


async def rows(session: AsyncSession, customer_id: uuid.UUID) -> list[Customer]:
    customer = await session.get(Customer, customer_id)
    return [] if customer is None else [customer]


def scrub(customer: Customer, *, label: str) -> tuple[str, ...]:
    """Replace every direct identifier (names, contact, address, government ids, birth date)
    and unlink the login; return the fields replaced. The id, kind, state and country stay:
    the records kept under a legal duty name the customer by id, and the state says whose
    record rule applies."""
    if customer.kind == CustomerKind.PERSON.value:
        customer.first_name, customer.last_name = ERASED_NAME, ERASED_NAME
    else:
        customer.organisation_name = ERASED_NAME
    customer.display_name = label
    customer.email = erased_email(customer.id)
    customer.phone = None
    customer.address_line1, customer.address_line2 = ERASED_NAME, None
    customer.city, customer.postal_code = ERASED_NAME, "00000"
    customer.date_of_birth_enc = None
    customer.ssn_enc = None
    customer.drivers_license_number_enc = None
    customer.drivers_license_state = None
    customer.user_id = None
    customer.updated_at = clock.now()
    return (
        "first_name",
        "last_name",
        "organisation_name",
        "display_name",
        "email",
        "phone",
        "address",
        "date_of_birth",
        "ssn",
        "drivers_license_number",
        "drivers_license_state",
        "user_id",
    )


async def chunk_after(
    session: AsyncSession, after: uuid.UUID | None, limit: int
) -> list[tuple[uuid.UUID, datetime]]:
    """(id, created at) of the next ``limit`` customers in id order: the retention sweep walks
    the book by primary key, a chunk per transaction."""
    query = select(Customer.id, Customer.created_at)
    if after is not None:
        query = query.where(Customer.id > after)
    found = await session.execute(query.order_by(Customer.id).limit(limit))
    return [(c, at) for c, at in found]
