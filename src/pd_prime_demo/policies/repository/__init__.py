"""Policies' queries: the only module that builds SQL on the policy tables.

Reads for an actor are filtered by the customers the actor may see: the services pass that set
as a subquery built by the customers service, so a policy that is not visible is not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    DateTime,
    Numeric,
    Select,
    bindparam,
    case,
    exists,
    func,
    select,
    true,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from pd_prime_demo.core import pagination
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result
from pd_prime_demo.policies.enums import (
    ChangeStatus,
    PolicyStatus,
    StatusOn,
    TransactionKind,
)
from pd_prime_demo.policies.models import Policy, PolicyChange, PolicyTransaction
from pd_prime_demo.policies.repository import conversion as conversion
from pd_prime_demo.policies.repository import renewals as renewals


async def get(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    visible_customers: Select[Any] | None,
    for_update: bool = False,
) -> Policy | None:
    """The policy, if its customer is among ``visible_customers`` (None: no restriction)."""
    query = select(Policy).where(Policy.id == policy_id)
    if visible_customers is not None:
        query = query.where(Policy.customer_id.in_(visible_customers))
    if for_update:
        query = query.with_for_update(of=Policy)
    return await session.scalar(query)


async def by_quote(session: AsyncSession, quote_id: uuid.UUID) -> Policy | None:
    return await session.scalar(select(Policy).where(Policy.quote_id == quote_id))


_AS_OF: dict[Hashable, Select[Policy, PolicyTransaction]] = {}
# No timestamp is later: "as known now" includes everything recorded.
LATEST_KNOWN = datetime(9999, 12, 31, tzinfo=UTC)


def _in_effect_as_known() -> Any:
    """Transactions that count as known at ``:known_at``: recorded by then, not a reversal,
    and not reversed by a reversal recorded by then."""
    known = bindparam("known_at", type_=DateTime(timezone=True))
    reversal = aliased(PolicyTransaction)
    reversed_by_then = exists().where(
        reversal.policy_id == PolicyTransaction.policy_id,
        reversal.reverses_seq == PolicyTransaction.seq,
        reversal.created_at <= known,
    )
    return (
        PolicyTransaction.created_at <= known,
        PolicyTransaction.kind != TransactionKind.REVERSAL.value,
        ~reversed_by_then,
    )


def _deciding_transaction() -> Any:
    """Per policy, the transaction that decides what it is on ``:on`` as known at
    ``:known_at``: the latest in effect by then, or before inception the first to come."""
    on = bindparam("on", type_=Date)
    effective = PolicyTransaction.effective_on
    return (
        select(PolicyTransaction)
        .where(PolicyTransaction.policy_id == Policy.id, *_in_effect_as_known())
        # Effective by then first, latest first; then the upcoming ones, soonest first.
        .order_by(effective > on, func.abs(effective - on), PolicyTransaction.seq.desc())
        .limit(1)
        .lateral()
    )


def _as_of_statement(visible_customers: Select[Any]) -> Select[Policy, PolicyTransaction]:
    latest = _deciding_transaction()
    txn = aliased(PolicyTransaction, latest)
    return (
        select(Policy, txn)
        .outerjoin(latest, true())
        .where(Policy.id == bindparam("policy_id"), Policy.customer_id.in_(visible_customers))
    )


async def read_as_of(
    session: AsyncSession,
    policy_id: uuid.UUID,
    on: date,
    *,
    known_at: datetime | None = None,
    visibility: Hashable,
    visible_customers: Select[Any],
    params: dict[str, Any],
) -> tuple[Policy, PolicyTransaction | None] | None:
    """One round trip: the policy and the transaction that decides what it is on ``on``.

    Reading a policy is the hottest query there is, so its statement is built once per kind
    of ``visibility`` (``visible_customers`` must depend on nothing else; the viewer's id is
    bound at execution through ``params``).
    """
    statement = _AS_OF.get(visibility)
    if statement is None:
        statement = _AS_OF[visibility] = _as_of_statement(visible_customers)
    row = (
        await session.execute(
            statement,
            {
                "policy_id": policy_id,
                "on": on,
                "known_at": known_at or LATEST_KNOWN,
                **params,
            },
        )
    ).first()
    if row is None:
        return None
    policy, txn = row
    return policy, txn


@dataclass(frozen=True, slots=True)
class PolicyFilter:
    number: str | None = None
    customer_id: uuid.UUID | None = None
    product_code: str | None = None
    state: str | None = None
    inception_from: date | None = None
    inception_to: date | None = None
    status: StatusOn | None = None  # on ``on`` as known at ``known_at``


_KEY = (Policy.created_at, Policy.id)


async def page(
    session: AsyncSession,
    *,
    visible_customers: Select[Any] | None,
    params: dict[str, Any],
    where: PolicyFilter,
    on: date,
    known_at: datetime | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[tuple[Policy, PolicyTransaction | None]], str | None], DomainError]:
    """A page of visible policies in (created_at, id) order, each with the transaction that
    decides what it is on ``on``; filtered in the database (the book is never loaded)."""
    latest = _deciding_transaction()
    txn = aliased(PolicyTransaction, latest)
    query = select(Policy, txn).outerjoin(latest, true())
    # None: the actor sees every customer. "IN (every customer)" would read as a filter, and the
    # planner hashes the whole customer table and sorts the book instead of walking the index.
    if visible_customers is not None:
        query = query.where(Policy.customer_id.in_(visible_customers))
    for column, value in (
        (Policy.number, where.number),
        (Policy.customer_id, where.customer_id),
        (Policy.product_code, where.product_code),
        (Policy.state, where.state),
    ):
        if value is not None:
            query = query.where(column == value)
    if where.inception_from is not None:
        query = query.where(Policy.inception_on >= where.inception_from)
    if where.inception_to is not None:
        query = query.where(Policy.inception_on <= where.inception_to)
    if where.status is not None:
        query = query.where(_status_on(txn) == where.status.value)
    if cursor is not None:
        position = pagination.decode(cursor, [datetime, uuid.UUID])
        if position is None:
            return Err(pagination.BAD_CURSOR)
        query = query.where(tuple_(*_KEY) > tuple_(*position))
    query = query.order_by(*_KEY).limit(limit + 1)
    rows: list[tuple[Policy, PolicyTransaction | None]] = [
        (policy, deciding)
        for policy, deciding in await session.execute(
            query, {"on": on, "known_at": known_at or LATEST_KNOWN, **params}
        )
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1][0]
        next_cursor = pagination.encode([last.created_at, last.id])
    return Ok((rows[:limit], next_cursor))


def _status_on(txn: Any) -> Any:
    """What a policy is on ``:on`` given its deciding transaction (see ``StatusOn``)."""
    on = bindparam("on", type_=Date)
    return case(
        (txn.id.is_(None), StatusOn.NOT_YET_EFFECTIVE.value),
        (txn.effective_on > on, StatusOn.NOT_YET_EFFECTIVE.value),
        (txn.snapshot["status"].astext == PolicyStatus.CANCELLED.value, StatusOn.CANCELLED.value),
        (txn.snapshot["term_end"].astext.cast(Date) <= on, StatusOn.EXPIRED.value),
        else_=StatusOn.IN_FORCE.value,
    )


async def by_number(
    session: AsyncSession, number: str, *, visible_customers: Select[Any]
) -> Policy | None:
    return await session.scalar(
        select(Policy).where(Policy.number == number, Policy.customer_id.in_(visible_customers))
    )


async def transactions(session: AsyncSession, policy_id: uuid.UUID) -> list[PolicyTransaction]:
    return list(
        (
            await session.scalars(
                select(PolicyTransaction)
                .where(PolicyTransaction.policy_id == policy_id)
                .order_by(PolicyTransaction.seq)
            )
        ).all()
    )


async def transactions_of(
    session: AsyncSession, policy_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[PolicyTransaction]]:
    """The histories of several policies in one query."""
    found: dict[uuid.UUID, list[PolicyTransaction]] = {}
    rows = await session.scalars(
        select(PolicyTransaction)
        .where(PolicyTransaction.policy_id.in_(policy_ids))
        .order_by(PolicyTransaction.policy_id, PolicyTransaction.seq)
    )
    for txn in rows:
        found.setdefault(txn.policy_id, []).append(txn)
    return found


async def in_force_totals(
    session: AsyncSession, on: date, *, known_at: datetime | None = None
) -> Sequence[tuple[str, str, int, Decimal]]:
    """(product, state, policies in force on ``on``, their term premium) as known at
    ``known_at``, in the database."""
    latest = _deciding_transaction()
    snapshot = latest.c.snapshot
    query = (
        select(
            Policy.product_code,
            Policy.state,
            func.count(),
            func.coalesce(func.sum(snapshot["term_premium"].astext.cast(Numeric)), 0),
        )
        .join(latest, true())
        .where(
            latest.c.effective_on <= bindparam("on"),
            snapshot["status"].astext == PolicyStatus.IN_FORCE.value,
            snapshot["term_end"].astext.cast(Date) > bindparam("on"),
        )
        .group_by(Policy.product_code, Policy.state)
    )
    rows = await session.execute(query, {"on": on, "known_at": known_at or LATEST_KNOWN})
    return [(code, state, int(count), Decimal(premium)) for code, state, count, premium in rows]


async def next_seq(session: AsyncSession, policy_id: uuid.UUID) -> int:
    latest = await session.scalar(
        select(func.coalesce(func.max(PolicyTransaction.seq), 0)).where(
            PolicyTransaction.policy_id == policy_id
        )
    )
    return int(latest or 0) + 1


async def next_serial(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.nextval("policy_number_seq"))) or 0)


async def policy_change(
    session: AsyncSession, change_id: uuid.UUID, *, for_update: bool = False
) -> PolicyChange | None:
    return await session.get(PolicyChange, change_id, with_for_update=for_update)


async def referred_changes(
    session: AsyncSession,
    *,
    authority: int,
    visible_customers: Select[Any],
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[PolicyChange], str | None], DomainError]:
    """Referred changes that need no more than ``authority``, oldest first."""
    query = (
        select(PolicyChange)
        .join(Policy, Policy.id == PolicyChange.policy_id)
        .where(
            PolicyChange.status == ChangeStatus.REFERRED,
            PolicyChange.required_authority <= authority,
            Policy.customer_id.in_(visible_customers),
        )
    )
    return await pagination.keyset_page(
        session,
        query,
        cursor=cursor,
        limit=limit,
        keys=[PolicyChange.requested_at, PolicyChange.id],
    )


async def transactions_page(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    as_of: date | None,
    known_at: datetime | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[PolicyTransaction], str | None], DomainError]:
    """The policy's transactions in the order recorded: those recorded by ``known_at`` and
    effective by ``as_of`` when given, a page at a time."""
    query = select(PolicyTransaction).where(PolicyTransaction.policy_id == policy_id)
    if known_at is not None:
        query = query.where(PolicyTransaction.created_at <= known_at)
    if as_of is not None:
        query = query.where(PolicyTransaction.effective_on <= as_of)
    return await pagination.keyset_page(
        session, query, cursor=cursor, limit=limit, keys=[PolicyTransaction.seq]
    )


# ---------------------------------------------------------------------------------------------
# Book conversion (service.imports): a chunk of policies at a time
