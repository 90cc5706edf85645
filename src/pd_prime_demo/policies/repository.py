"""Policies' queries: the only module that builds SQL on the policy tables.

Reads for an actor are filtered by the customers the actor may see: the services pass that set
as a subquery built by the customers service, so a policy that is not visible is not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Numeric, Select, String, bindparam, cast, exists, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from pd_prime_demo.policies.enums import PolicyStatus, RenewalStatus
from pd_prime_demo.policies.models import Policy, PolicyTransaction, RenewalOffer


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


def _as_of_statement(visible_customers: Select[Any]) -> Select[Policy, PolicyTransaction]:
    """The policy with its latest transaction effective on ``:on`` (or, before inception, the
    first to take effect), if visible."""
    on = bindparam("on", type_=Date)
    effective = PolicyTransaction.effective_on
    latest = (
        select(PolicyTransaction)
        .where(PolicyTransaction.policy_id == Policy.id)
        # Effective by then first, latest first; then the upcoming ones, soonest first.
        .order_by(effective > on, func.abs(effective - on), PolicyTransaction.seq.desc())
        .limit(1)
        .lateral()
    )
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
    visibility: Hashable,
    visible_customers: Select[Any],
    params: dict[str, Any],
) -> tuple[Policy, PolicyTransaction | None] | None:
    """One round trip: the policy and its transaction in effect on ``on``.

    Reading a policy is the hottest query there is, so its statement is built once per kind
    of ``visibility`` (``visible_customers`` must depend on nothing else; the viewer's id is
    bound at execution through ``params``).
    """
    statement = _AS_OF.get(visibility)
    if statement is None:
        statement = _AS_OF[visibility] = _as_of_statement(visible_customers)
    row = (await session.execute(statement, {"policy_id": policy_id, "on": on, **params})).first()
    return None if row is None else (row[0], row[1])


async def listing(
    session: AsyncSession,
    *,
    visible_customers: Select[Any],
    customer_id: uuid.UUID | None,
    limit: int,
) -> list[Policy]:
    query = (
        select(Policy)
        .where(Policy.customer_id.in_(visible_customers))
        .order_by(Policy.created_at.desc())
        .limit(limit)
    )
    if customer_id is not None:
        query = query.where(Policy.customer_id == customer_id)
    return list((await session.scalars(query)).all())


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


def _in_effect_on() -> Any:
    """Each policy's transaction in effect on ``:on`` (a lateral subquery per policy)."""
    return (
        select(PolicyTransaction.snapshot)
        .where(
            PolicyTransaction.policy_id == Policy.id,
            PolicyTransaction.effective_on <= bindparam("on"),
        )
        .order_by(PolicyTransaction.effective_on.desc(), PolicyTransaction.seq.desc())
        .limit(1)
        .lateral("in_effect")
    )


async def in_force_totals(
    session: AsyncSession, on: date
) -> Sequence[tuple[str, str, int, Decimal]]:
    """(product, state, policies in force on ``on``, their term premium), in the database."""
    latest = _in_effect_on()
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
            snapshot["status"].astext == PolicyStatus.IN_FORCE.value,
            snapshot["term_end"].astext.cast(Date) > bindparam("on"),
        )
        .group_by(Policy.product_code, Policy.state)
    )
    rows = await session.execute(query, {"on": on})
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


async def renewal_offer(
    session: AsyncSession, policy_id: uuid.UUID, term_start: date
) -> RenewalOffer | None:
    return await session.scalar(
        select(RenewalOffer).where(
            RenewalOffer.policy_id == policy_id, RenewalOffer.term_start == term_start
        )
    )


async def open_renewal_offer(session: AsyncSession, policy_id: uuid.UUID) -> RenewalOffer | None:
    return await session.scalar(
        select(RenewalOffer)
        .where(RenewalOffer.policy_id == policy_id, RenewalOffer.status == RenewalStatus.OFFERED)
        .with_for_update()
    )


async def offers_to_lapse(session: AsyncSession, today: date) -> Sequence[RenewalOffer]:
    return (
        await session.scalars(
            select(RenewalOffer)
            .where(RenewalOffer.status == RenewalStatus.OFFERED, RenewalOffer.term_start < today)
            .with_for_update(skip_locked=True)
        )
    ).all()


async def terms_ending_between(
    session: AsyncSession, first: date, last: date
) -> Sequence[uuid.UUID]:
    """Policies with a term ending within [first, last] (renewal offer candidates)."""
    return (
        await session.scalars(
            select(PolicyTransaction.policy_id)
            .where(PolicyTransaction.term_end >= first, PolicyTransaction.term_end <= last)
            .distinct()
        )
    ).all()


async def without_document(
    session: AsyncSession,
    *,
    documented: Select[Any],
    policy_id: uuid.UUID | None,
    limit: int,
) -> Sequence[tuple[PolicyTransaction, Policy]]:
    """Transactions whose id is not among ``documented`` (source ids), oldest first, each
    locked while its page is rendered (a concurrent sweep skips it)."""
    has_page = exists(
        documented.where(documented.selected_columns[0] == cast(PolicyTransaction.id, String))
    )
    query = (
        select(PolicyTransaction, Policy)
        .join(Policy, Policy.id == PolicyTransaction.policy_id)
        .where(~has_page)
        .order_by(PolicyTransaction.created_at)
        .limit(limit)
        .with_for_update(of=PolicyTransaction, skip_locked=True)
    )
    if policy_id is not None:
        query = query.where(PolicyTransaction.policy_id == policy_id)
    return [(txn, policy) for txn, policy in await session.execute(query)]
