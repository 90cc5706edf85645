"""Creating and updating customers: agent assignment, PII sealed per field, audited."""

from __future__ import annotations

import uuid
from datetime import date

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import COMPANY_WIDE_ROLES, Actor, ActorKind, Permission, Role
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    forbidden,
    invalid,
    stale_version,
)
from pd_prime_demo.customers import repository, rules
from pd_prime_demo.customers.enums import CustomerKind
from pd_prime_demo.customers.models import Customer
from pd_prime_demo.customers.schemas import (
    Address,
    CustomerUpdate,
    OrganisationCreate,
    PersonCreate,
)
from pd_prime_demo.customers.service.pii import set_pii
from pd_prime_demo.customers.service.read import get_customer
from pd_prime_demo.identity import service as identity


async def _check_agent(
    session: AsyncSession, agent_id: uuid.UUID | None, actor: Actor
) -> Result[uuid.UUID | None, DomainError]:
    """Agents create into their own book; only company-wide staff may assign another agent."""
    if actor.role is Role.AGENT:
        if agent_id is not None and agent_id != actor.user_id:
            return Err(forbidden("customer.agent_assignment", "agents can only use their own book"))
        return Ok(actor.user_id)
    if agent_id is None:
        return Ok(None)
    if await identity.find_active_user(session, agent_id, role=Role.AGENT) is None:
        return Err(
            invalid(
                "customer.unknown_agent",
                "agent_id does not name an active agent",
                FieldIssue("#/agent_id", "no active agent has this id"),
            )
        )
    return Ok(agent_id)


def _apply_address(customer: Customer, address: Address) -> None:
    customer.address_line1 = address.line1
    customer.address_line2 = address.line2
    customer.city = address.city
    customer.state = address.state
    customer.postal_code = address.postal_code
    customer.country = address.country


def _refresh_display_name(customer: Customer) -> None:
    customer.display_name = rules.display_name(
        kind=customer.kind,
        first_name=customer.first_name,
        last_name=customer.last_name,
        organisation_name=customer.organisation_name,
    )


@beartype
async def create_customer(
    session: AsyncSession,
    data: PersonCreate | OrganisationCreate,
    *,
    actor: Actor,
    cipher: FieldCipher,
    owner_user_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
) -> Result[Customer, DomainError]:
    if not actor.has(Permission.CUSTOMERS_CREATE):
        return Err(forbidden("auth.permission_missing", "this requires customers:create"))
    match await _check_agent(session, data.agent_id, actor):
        case Err() as err:
            return err
        case Ok(agent_id):
            pass
    now = clock.now()
    customer = Customer(
        id=customer_id or uuid.uuid4(),
        kind=data.kind,
        email=str(data.email).lower(),
        phone=data.phone,
        agent_id=agent_id,
        user_id=owner_user_id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    _apply_address(customer, data.address)
    if isinstance(data, PersonCreate):
        customer.first_name, customer.last_name = data.first_name, data.last_name
        dob = data.date_of_birth.isoformat() if data.date_of_birth else None
        set_pii(cipher, customer, "date_of_birth", dob)
        set_pii(cipher, customer, "ssn", data.ssn)
        set_pii(cipher, customer, "drivers_license_number", data.drivers_license_number)
        customer.drivers_license_state = data.drivers_license_state
    else:
        customer.organisation_name = data.organisation_name
    _refresh_display_name(customer)
    await repository.save(session, customer)
    provided = sorted(data.model_fields_set - {"kind"})
    await audit.record(
        session,
        actor,
        "customer.created",
        "customer",
        str(customer.id),
        {"kind": customer.kind, "fields": provided},
    )
    return Ok(customer)


_SIMPLE_FIELDS = ("first_name", "last_name", "organisation_name", "phone", "drivers_license_state")
_PERSON_ONLY = frozenset(
    {
        "first_name",
        "last_name",
        "date_of_birth",
        "ssn",
        "drivers_license_number",
        "drivers_license_state",
    }
)
_ORGANISATION_ONLY = frozenset({"organisation_name"})


@beartype
async def update_customer(
    session: AsyncSession,
    customer_id: uuid.UUID,
    changes: CustomerUpdate,
    *,
    expected_version: int | None,
    actor: Actor,
    cipher: FieldCipher,
) -> Result[Customer, DomainError]:
    """Apply a partial update if the caller saw the current version (optimistic locking)."""
    match await get_customer(session, customer_id, actor=actor, for_update=True):
        case Err() as err:
            return err
        case Ok(customer):
            pass
    if not actor.has(Permission.CUSTOMERS_UPDATE):
        return Err(forbidden("auth.permission_missing", "this requires customers:update"))
    if expected_version is not None and expected_version != customer.version:
        return Err(stale_version("customer"))
    fields = changes.model_fields_set
    organisation = customer.kind == CustomerKind.ORGANISATION
    wrong_kind = fields & (_PERSON_ONLY if organisation else _ORGANISATION_ONLY)
    if wrong_kind:
        return Err(
            invalid(
                "customer.field_not_applicable",
                f"these fields do not apply to a {customer.kind}",
                *(FieldIssue(f"#/{name}", "not applicable") for name in sorted(wrong_kind)),
            )
        )
    if "agent_id" in fields and changes.agent_id != customer.agent_id:
        if actor.role not in COMPANY_WIDE_ROLES and actor.kind is not ActorKind.SYSTEM:
            return Err(
                forbidden("customer.agent_assignment", "only staff can move a customer's book")
            )
        match await _check_agent(session, changes.agent_id, actor):
            case Err() as err:
                return err
            case Ok(agent_id):
                customer.agent_id = agent_id
    for name in _SIMPLE_FIELDS:
        if name in fields:
            setattr(customer, name, getattr(changes, name))
    if "email" in fields and changes.email is not None:
        email = str(changes.email).lower()
        # A customer with a login has the login's address: it moves only through the
        # verified e-mail change (identity), never by editing the record, so nobody can put
        # another user's address on their own record.
        if customer.user_id is not None and email != customer.email:
            return Err(
                invalid(
                    "customer.email_is_login",
                    "this customer's e-mail is their login's: change it through "
                    "POST /api/v1/account/email, which confirms the new address",
                    FieldIssue("#/email", "changed only by a verified e-mail change"),
                )
            )
        customer.email = email
    if "address" in fields and changes.address is not None:
        _apply_address(customer, changes.address)
    if "date_of_birth" in fields:
        dob: date | None = changes.date_of_birth
        set_pii(cipher, customer, "date_of_birth", dob.isoformat() if dob else None)
    if "ssn" in fields:
        set_pii(cipher, customer, "ssn", changes.ssn)
    if "drivers_license_number" in fields:
        set_pii(cipher, customer, "drivers_license_number", changes.drivers_license_number)
    if (customer.drivers_license_number_enc is None) != (customer.drivers_license_state is None):
        return Err(
            invalid(
                "customer.licence_incomplete",
                "drivers_license_number and drivers_license_state go together",
                FieldIssue("#/drivers_license_state", "set both or clear both"),
            )
        )
    _refresh_display_name(customer)
    customer.updated_at = clock.now()
    await repository.save(session, customer)
    await audit.record(
        session,
        actor,
        "customer.updated",
        "customer",
        str(customer.id),
        {"fields": sorted(fields), "version": customer.version},
    )
    return Ok(customer)
