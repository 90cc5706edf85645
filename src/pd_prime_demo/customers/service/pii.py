"""Customer PII: sealed per field on the way in, opened only to present a customer.

A presentation is masked unless the actor holds ``pii:read``; an unmasked one is audited.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.customers import rules
from pd_prime_demo.customers.models import Customer
from pd_prime_demo.customers.schemas import AddressRead, CustomerRead


def _context(field: str, customer_id: uuid.UUID) -> str:
    return f"customers.{field}:{customer_id}"


def _seal(cipher: FieldCipher, customer: Customer, field: str, value: str | None) -> str | None:
    return None if value is None else cipher.encrypt(value, context=_context(field, customer.id))


def _open(cipher: FieldCipher, customer: Customer, field: str, value: str | None) -> str | None:
    return None if value is None else cipher.decrypt(value, context=_context(field, customer.id))


def set_pii(cipher: FieldCipher, customer: Customer, field: str, value: str | None) -> None:
    """Store ``value`` (None clears it) sealed in the ``<field>_enc`` column."""
    setattr(customer, f"{field}_enc", _seal(cipher, customer, field, value))


async def present(
    session: AsyncSession, customers: list[Customer], *, actor: Actor, cipher: FieldCipher
) -> list[CustomerRead]:
    """Response models, unmasked only for ``pii:read``; an unmasked read is audited."""
    reveal = actor.has(Permission.PII_READ)
    out: list[CustomerRead] = []
    for c in customers:
        ssn = _open(cipher, c, "ssn", c.ssn_enc)
        dob = _open(cipher, c, "date_of_birth", c.date_of_birth_enc)
        licence = _open(cipher, c, "drivers_license_number", c.drivers_license_number_enc)
        if not reveal:
            ssn = rules.mask_ssn(ssn) if ssn else None
            dob = rules.mask_date_of_birth(dob) if dob else None
            licence = rules.mask_licence(licence) if licence else None
        out.append(
            CustomerRead(
                id=c.id,
                kind=c.kind,
                display_name=c.display_name,
                first_name=c.first_name,
                last_name=c.last_name,
                organisation_name=c.organisation_name,
                email=c.email,
                phone=c.phone,
                address=AddressRead(
                    line1=c.address_line1,
                    line2=c.address_line2,
                    city=c.city,
                    state=c.state,
                    postal_code=c.postal_code,
                    country=c.country,
                ),
                date_of_birth=dob,
                ssn=ssn,
                drivers_license_number=licence,
                drivers_license_state=c.drivers_license_state,
                agent_id=c.agent_id,
                user_id=c.user_id,
                pii_masked=not reveal,
                version=c.version,
                created_at=c.created_at,
                updated_at=c.updated_at,
            )
        )
    revealed = [
        str(c.id)
        for c in customers
        if c.ssn_enc or c.date_of_birth_enc or c.drivers_license_number_enc
    ]
    if reveal and revealed:
        resource_id = revealed[0] if len(revealed) == 1 else "many"
        await audit.record(
            session,
            actor,
            "customer.pii_read",
            "customer",
            resource_id,
            {"customer_ids": revealed, "fields": list(rules.PII_FIELDS)},
        )
    return out


async def present_one(
    session: AsyncSession, customer: Customer, *, actor: Actor, cipher: FieldCipher
) -> CustomerRead:
    return (await present(session, [customer], actor=actor, cipher=cipher))[0]
