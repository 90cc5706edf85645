"""Reading policies: one as of any date, the list an actor may see, a history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, forbidden
from pd_prime_demo.customers import service as customers
from pd_prime_demo.policies import repository
from pd_prime_demo.policies.enums import PolicyStatus, StatusOn
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.service.common import NOT_FOUND, get_policy, latest_transaction
from pd_prime_demo.policies.service.intents import in_effect


@dataclass(frozen=True, slots=True)
class AsOf:
    on: date
    status: StatusOn
    transaction: PolicyTransaction | None

    @property
    def snapshot(self) -> dict[str, Any] | None:
        """The stored state in effect (a ``PolicyState`` as JSON), or None before inception."""
        return self.transaction.snapshot if self.transaction else None


def known_in_effect(
    history: list[PolicyTransaction], known_at: datetime | None = None
) -> list[PolicyTransaction]:
    """The transactions in effect as known at ``known_at`` (now by default): recorded by then,
    not reversals, and not reversed by a reversal recorded by then."""
    known = [t for t in history if known_at is None or t.created_at <= known_at]
    return in_effect(known)


def state_as_of(
    history: list[PolicyTransaction], on: date, known_at: datetime | None = None
) -> AsOf:
    """What was in force on ``on`` as known at ``known_at``: the latest transaction in effect
    by then decides (before inception, the first to take effect, for what it will say)."""
    current = known_in_effect(history, known_at)
    effective = [t for t in current if t.effective_on <= on]
    if effective:
        return state_from(latest_transaction(effective), on)
    upcoming = [t for t in current if t.effective_on > on]
    first = min(upcoming, key=lambda t: (t.effective_on, -t.seq)) if upcoming else None
    return state_from(first, on)


def state_from(latest: PolicyTransaction | None, on: date) -> AsOf:
    """The state on ``on`` given the transaction that decides it (see :func:`state_as_of`)."""
    if latest is None or latest.effective_on > on:
        return AsOf(on, StatusOn.NOT_YET_EFFECTIVE, latest)
    snap = latest.snapshot
    if snap["status"] == PolicyStatus.CANCELLED:
        return AsOf(on, StatusOn.CANCELLED, latest)
    if on >= date.fromisoformat(snap["term_end"]):
        return AsOf(on, StatusOn.EXPIRED, latest)
    return AsOf(on, StatusOn.IN_FORCE, latest)


async def read_as_of(
    session: AsyncSession,
    policy_id: uuid.UUID,
    on: date,
    *,
    actor: Actor,
    known_at: datetime | None = None,
) -> Result[tuple[Policy, AsOf], DomainError]:
    """The policy and what was in force on ``on`` as known at ``known_at``, in one query
    (404 if not visible)."""
    if not actor.has(Permission.POLICIES_READ):
        return Err(NOT_FOUND)
    visibility, viewer = customers.Visibility.of(actor)
    found = await repository.read_as_of(
        session,
        policy_id,
        on,
        known_at=known_at,
        visibility=visibility,
        visible_customers=visibility.visible_ids(),
        params={"viewer": viewer},
    )
    if found is None:
        return Err(NOT_FOUND)
    policy, txn = found
    return Ok((policy, state_from(txn, on)))


async def read_by_number(
    session: AsyncSession, number: str, on: date, *, actor: Actor, known_at: datetime | None = None
) -> Result[tuple[Policy, AsOf], DomainError]:
    if not actor.has(Permission.POLICIES_READ):
        return Err(NOT_FOUND)
    policy = await repository.by_number(
        session, number, visible_customers=customers.visible_ids(actor)
    )
    if policy is None:
        return Err(NOT_FOUND)
    return await read_as_of(session, policy.id, on, actor=actor, known_at=known_at)


async def list_policies(
    session: AsyncSession,
    *,
    actor: Actor,
    where: repository.PolicyFilter,
    on: date,
    known_at: datetime | None = None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[tuple[Policy, AsOf]], str | None], DomainError]:
    """A page of the policies ``actor`` may see, each as of ``on``, filtered in the database."""
    # Without policies:read (an API client or key not given it) the answer is 403, not an
    # empty page that reads as "no policies".
    if not actor.has(Permission.POLICIES_READ):
        return Err(forbidden("auth.permission_missing", "this requires policies:read"))
    visibility, viewer = customers.Visibility.of(actor)
    match await repository.page(
        session,
        visible_customers=None
        if visibility is customers.Visibility.ALL
        else visibility.visible_ids(),
        params={"viewer": viewer},
        where=where,
        on=on,
        known_at=known_at,
        cursor=cursor,
        limit=limit,
    ):
        case Err() as err:
            return err
        case Ok((rows, next_cursor)):
            return Ok(([(p, state_from(t, on)) for p, t in rows], next_cursor))
    raise AssertionError("unreachable")  # pragma: no cover


async def transactions(session: AsyncSession, policy_id: uuid.UUID) -> list[PolicyTransaction]:
    """The policy's whole history in the order recorded (the caller checked it may see it)."""
    return await repository.transactions(session, policy_id)


async def history_for(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    actor: Actor,
    as_of: date | None = None,
    known_at: datetime | None = None,
    cursor: str | None = None,
    limit: int = 200,
) -> Result[tuple[list[PolicyTransaction], str | None], DomainError]:
    """A page of the policy's transactions in the order recorded, as known at ``known_at``
    (recorded by then), effective by ``as_of`` if given."""
    match await get_policy(session, policy_id, actor=actor):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    return await repository.transactions_page(
        session, policy.id, as_of=as_of, known_at=known_at, cursor=cursor, limit=limit
    )


@dataclass(frozen=True, slots=True)
class InForce:
    """Policies of one product in one state in force on a day, and their term premium."""

    product_code: str
    state: str
    count: int
    premium: Decimal


async def in_force_on(
    session: AsyncSession, on: date, *, known_at: datetime | None = None
) -> list[InForce]:
    """By product and state: the policies in force on ``on`` (as known at ``known_at``) and
    their term premium (one aggregate query: the book is never loaded)."""
    return [
        InForce(product_code, state, count, premium)
        for product_code, state, count, premium in await repository.in_force_totals(
            session, on, known_at=known_at
        )
    ]
