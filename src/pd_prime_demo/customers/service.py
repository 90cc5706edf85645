"""Customer use cases: create, read, list and search, update, self-registration.

PII (SSN, date of birth, driver's licence number) is encrypted per field before it reaches the
session and decrypted only to present it; an unmasked presentation writes an audit entry.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date
from typing import Any, TypeVar

from beartype import beartype
from sqlalchemy import ColumnElement, Select, bindparam, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import COMPANY_WIDE_ROLES, Actor, ActorKind, Permission, Role
from pd_prime_demo.core.crypto import FieldCipher, PasswordHashing
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    forbidden,
    invalid,
    not_found,
    stale_version,
)
from pd_prime_demo.customers import rules
from pd_prime_demo.customers.models import Customer
from pd_prime_demo.customers.schemas import (
    AddressRead,
    CustomerRead,
    CustomerUpdate,
    OrganisationCreate,
    PersonCreate,
    RegistrationCreate,
)
from pd_prime_demo.identity import service as identity

NOT_FOUND = not_found("customer")
T = TypeVar("T")


def _context(field: str, customer_id: uuid.UUID) -> str:
    return f"customers.{field}:{customer_id}"


def _seal(cipher: FieldCipher, customer: Customer, field: str, value: str | None) -> str | None:
    return None if value is None else cipher.encrypt(value, context=_context(field, customer.id))


def _open(cipher: FieldCipher, customer: Customer, field: str, value: str | None) -> str | None:
    return None if value is None else cipher.decrypt(value, context=_context(field, customer.id))


def _set_pii(cipher: FieldCipher, customer: Customer, field: str, value: str | None) -> None:
    setattr(customer, f"{field}_enc", _seal(cipher, customer, field, value))


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


def _apply_address(customer: Customer, address: Any) -> None:
    customer.address_line1 = address.line1
    customer.address_line2 = address.line2
    customer.city = address.city
    customer.state = address.state
    customer.postal_code = address.postal_code
    customer.country = address.country


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
        _set_pii(cipher, customer, "date_of_birth", dob)
        _set_pii(cipher, customer, "ssn", data.ssn)
        _set_pii(cipher, customer, "drivers_license_number", data.drivers_license_number)
        customer.drivers_license_state = data.drivers_license_state
    else:
        customer.organisation_name = data.organisation_name
    customer.display_name = rules.display_name(
        kind=customer.kind,
        first_name=customer.first_name,
        last_name=customer.last_name,
        organisation_name=customer.organisation_name,
    )
    session.add(customer)
    await session.flush()
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


def _visibility(actor: Actor) -> ColumnElement[bool] | None:
    """The SQL form of :func:`rules.can_see`; None means no restriction."""
    kind, viewer = Visibility.of(actor)
    return kind.condition(viewer)


def _visible(query: Select[T], actor: Actor) -> Select[T]:
    scope = _visibility(actor)
    return query if scope is None else query.where(scope)


def visible_ids(actor: Actor) -> Select[uuid.UUID]:
    """Ids of the customers ``actor`` may see, as a subquery for other domains' listings."""
    return _visible(select(Customer.id), actor)


class Visibility(enum.Enum):
    """Which customers an actor sees, as a kind; :meth:`condition` makes it the SQL filter.

    Hot queries are built once per kind rather than once per request: the viewer's id is then
    bound at execution (``{"viewer": ...}``) instead of being part of the statement.
    """

    NONE = "none"
    ALL = "all"
    AGENT = "agent"
    OWNER = "owner"

    @classmethod
    def of(cls, actor: Actor) -> tuple[Visibility, uuid.UUID | None]:
        """The kind, and the id to bind as ``viewer`` (rules.can_see in another form)."""
        if not actor.has(Permission.CUSTOMERS_READ):
            return cls.NONE, None
        if actor.kind is ActorKind.SYSTEM or actor.role in COMPANY_WIDE_ROLES:
            return cls.ALL, None
        if actor.role is Role.AGENT:
            return cls.AGENT, actor.user_id
        if actor.role is Role.CUSTOMER:
            return cls.OWNER, actor.user_id
        return cls.NONE, None

    def condition(self, viewer: uuid.UUID | None = None) -> ColumnElement[bool] | None:
        """The filter on customers; None means no restriction. ``viewer`` may be bound later."""
        match self:
            case Visibility.ALL:
                return None
            case Visibility.AGENT:
                return Customer.agent_id == bindparam("viewer", viewer)
            case Visibility.OWNER:
                return Customer.user_id == bindparam("viewer", viewer)
            case Visibility.NONE:
                return false()

    def visible_ids(self) -> Select[uuid.UUID]:
        """Ids of the visible customers, with ``:viewer`` to bind at execution."""
        condition = self.condition()
        ids = select(Customer.id)
        return ids if condition is None else ids.where(condition)


def _may_see_statement(kind: Visibility) -> Select[uuid.UUID]:
    query = select(Customer.id).where(Customer.id == bindparam("customer_id"))
    condition = kind.condition()
    return query if condition is None else query.where(condition)


_MAY_SEE = {kind: _may_see_statement(kind) for kind in Visibility if kind is not Visibility.NONE}


_MAILING = select(
    Customer.display_name,
    Customer.address_line1,
    Customer.address_line2,
    Customer.city,
    Customer.state,
    Customer.postal_code,
).where(Customer.id == bindparam("customer_id"))


async def mailing_label(session: AsyncSession, customer_id: uuid.UUID) -> tuple[str, str] | None:
    """The customer's name and one-line mailing address, as printed on documents (no other
    PII is read). For the system's own documents: no actor's visibility applies."""
    row = (await session.execute(_MAILING, {"customer_id": customer_id})).one_or_none()
    if row is None:
        return None
    street = ", ".join(x for x in (row.address_line1, row.address_line2) if x)
    return row.display_name, f"{street}, {row.city}, {row.state} {row.postal_code}"


async def may_see(session: AsyncSession, customer_id: uuid.UUID, *, actor: Actor) -> bool:
    """Whether the customer exists and ``actor`` may see it, without loading the record."""
    kind, viewer = Visibility.of(actor)
    if kind is Visibility.NONE:
        return False
    params: dict[str, Any] = {"customer_id": customer_id}
    if viewer is not None:
        params["viewer"] = viewer
    return await session.scalar(_MAY_SEE[kind], params) is not None


async def get_customer(
    session: AsyncSession, customer_id: uuid.UUID, *, actor: Actor, for_update: bool = False
) -> Result[Customer, DomainError]:
    if not actor.has(Permission.CUSTOMERS_READ):
        return Err(NOT_FOUND)
    customer = await session.get(Customer, customer_id, with_for_update=for_update)
    if customer is None or not rules.can_see(
        actor, owner_user_id=customer.user_id, agent_id=customer.agent_id
    ):
        return Err(NOT_FOUND)
    return Ok(customer)


async def list_customers(
    session: AsyncSession,
    *,
    actor: Actor,
    q: str | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[Customer], str | None], DomainError]:
    query = _visible(select(Customer), actor)
    if q:
        pattern = f"%{rules.escape_like(q.strip())}%"
        query = query.where(
            or_(
                Customer.display_name.ilike(pattern, escape="\\"),
                Customer.email.ilike(pattern, escape="\\"),
            )
        )
    return await keyset_page(session, query, Customer, cursor=cursor, limit=limit)


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
    wrong_kind = fields & (
        _PERSON_ONLY if customer.kind == "organisation" else {"organisation_name"}
    )
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
        customer.email = str(changes.email).lower()
    if "address" in fields and changes.address is not None:
        _apply_address(customer, changes.address)
    if "date_of_birth" in fields:
        dob: date | None = changes.date_of_birth
        _set_pii(cipher, customer, "date_of_birth", dob.isoformat() if dob else None)
    if "ssn" in fields:
        _set_pii(cipher, customer, "ssn", changes.ssn)
    if "drivers_license_number" in fields:
        _set_pii(cipher, customer, "drivers_license_number", changes.drivers_license_number)
    if (customer.drivers_license_number_enc is None) != (customer.drivers_license_state is None):
        return Err(
            invalid(
                "customer.licence_incomplete",
                "drivers_license_number and drivers_license_state go together",
                FieldIssue("#/drivers_license_state", "set both or clear both"),
            )
        )
    customer.display_name = rules.display_name(
        kind=customer.kind,
        first_name=customer.first_name,
        last_name=customer.last_name,
        organisation_name=customer.organisation_name,
    )
    customer.updated_at = clock.now()
    await session.flush()
    await audit.record(
        session,
        actor,
        "customer.updated",
        "customer",
        str(customer.id),
        {"fields": sorted(fields), "version": customer.version},
    )
    return Ok(customer)


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


@beartype
async def register(
    session: AsyncSession,
    data: RegistrationCreate,
    *,
    passwords: PasswordHashing,
    cipher: FieldCipher,
) -> Result[tuple[Actor, Customer], DomainError]:
    """Self-registration: a customer login and the person record it owns, in one transaction."""
    registrar = Actor.system("registration")
    match await identity.create_user(
        session,
        email=str(data.email),
        password=data.password,
        full_name=f"{data.first_name} {data.last_name}",
        role=Role.CUSTOMER,
        passwords=passwords,
        actor=registrar,
    ):
        case Err() as err:
            return err
        case Ok(user):
            pass
    person = PersonCreate(
        kind="person",
        first_name=data.first_name,
        last_name=data.last_name,
        email=data.email,
        phone=data.phone,
        address=data.address,
        date_of_birth=data.date_of_birth,
    )
    match await create_customer(
        session, person, actor=registrar, cipher=cipher, owner_user_id=user.id
    ):
        case Err() as err:
            return err
        case Ok(customer):
            return Ok((identity.actor_for_user(user), customer))
    raise AssertionError("unreachable")  # pragma: no cover
