"""Customer queries: the only module that builds SQL on ``customers``.

Every read an actor makes is filtered by what that actor may see (:func:`rules.can_see`, whose
SQL form is :class:`Visibility`); the one unfiltered read, :func:`mailing_address`, is for the
system's own documents.
"""

from __future__ import annotations

import enum
import uuid
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Row, Select, bindparam, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import COMPANY_WIDE_ROLES, Actor, ActorKind, Permission, Role
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Result
from pd_prime_demo.customers import rules
from pd_prime_demo.customers.models import Customer

T = TypeVar("T")


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


def _visible(query: Select[T], actor: Actor) -> Select[T]:
    kind, viewer = Visibility.of(actor)
    scope = kind.condition(viewer)
    return query if scope is None else query.where(scope)


def visible_ids(actor: Actor) -> Select[uuid.UUID]:
    """Ids of the customers ``actor`` may see, as a subquery for other domains' listings."""
    return _visible(select(Customer.id), actor)


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

MailingAddress = Row[str, str, str | None, str, str, str]


async def may_see(session: AsyncSession, customer_id: uuid.UUID, *, actor: Actor) -> bool:
    """Whether the customer exists and ``actor`` may see it, without loading the record."""
    kind, viewer = Visibility.of(actor)
    if kind is Visibility.NONE:
        return False
    params: dict[str, Any] = {"customer_id": customer_id}
    if viewer is not None:
        params["viewer"] = viewer
    return await session.scalar(_MAY_SEE[kind], params) is not None


async def mailing_address(session: AsyncSession, customer_id: uuid.UUID) -> MailingAddress | None:
    """The display name and postal address columns only; no actor's visibility applies."""
    return (await session.execute(_MAILING, {"customer_id": customer_id})).one_or_none()


async def get(
    session: AsyncSession, customer_id: uuid.UUID, *, actor: Actor, for_update: bool = False
) -> Customer | None:
    """The customer if it exists and ``actor`` may see it (locked with ``for_update``).

    By primary key through the session, so a customer already loaded in this unit of work
    costs no query (unless locked).
    """
    if not actor.has(Permission.CUSTOMERS_READ):
        return None
    customer = await session.get(Customer, customer_id, with_for_update=for_update)
    if customer is None or not rules.can_see(
        actor, owner_user_id=customer.user_id, agent_id=customer.agent_id
    ):
        return None
    return customer


async def ids_by_email(session: AsyncSession, email: str, *, limit: int = 100) -> list[uuid.UUID]:
    """The customers whose address on file is ``email``, compared case-insensitively on
    ix_customers_email_lower (an exact match, never a substring)."""
    found = await session.scalars(
        select(Customer.id)
        .where(func.lower(Customer.email) == email.strip().lower())
        .order_by(Customer.id)
        .limit(limit)
    )
    return list(found)


async def search(
    session: AsyncSession, *, actor: Actor, q: str | None, cursor: str | None, limit: int
) -> Result[tuple[list[Customer], str | None], DomainError]:
    """A keyset page of the visible customers whose name or e-mail contains ``q``."""
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


async def save(session: AsyncSession, customer: Customer) -> None:
    """Write ``customer`` now: an INSERT when new, else an UPDATE that the mapper's version
    column makes conditional on the version read (and increments)."""
    session.add(customer)
    await session.flush()


async def owned_by(session: AsyncSession, user_id: uuid.UUID) -> list[Customer]:
    """The customer records a login owns (a self-registered policyholder's), locked."""
    return list(
        await session.scalars(select(Customer).where(Customer.user_id == user_id).with_for_update())
    )
