"""Reading policies: one as of any date, the list an actor may see, a history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result
from pd_prime_demo.customers import service as customers
from pd_prime_demo.policies import repository
from pd_prime_demo.policies.enums import PolicyStatus, StatusOn
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.service.common import NOT_FOUND, get_policy, latest_transaction


@dataclass(frozen=True, slots=True)
class AsOf:
    on: date
    status: StatusOn
    transaction: PolicyTransaction | None

    @property
    def snapshot(self) -> dict[str, Any] | None:
        """The stored state in effect (a ``PolicyState`` as JSON), or None before inception."""
        return self.transaction.snapshot if self.transaction else None


def state_as_of(history: list[PolicyTransaction], on: date) -> AsOf:
    """What was in force on ``on``: the latest transaction effective by then decides (before
    inception, the first transaction to take effect, for what the policy will say)."""
    effective = [t for t in history if t.effective_on <= on]
    if effective:
        return state_from(latest_transaction(effective), on)
    upcoming = [t for t in history if t.effective_on > on]
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
    session: AsyncSession, policy_id: uuid.UUID, on: date, *, actor: Actor
) -> Result[tuple[Policy, AsOf], DomainError]:
    """The policy and what was in force on ``on``, in one query (404 if not visible)."""
    if not actor.has(Permission.POLICIES_READ):
        return Err(NOT_FOUND)
    visibility, viewer = customers.Visibility.of(actor)
    found = await repository.read_as_of(
        session,
        policy_id,
        on,
        visibility=visibility,
        visible_customers=visibility.visible_ids(),
        params={"viewer": viewer},
    )
    if found is None:
        return Err(NOT_FOUND)
    policy, txn = found
    return Ok((policy, state_from(txn, on)))


async def list_policies(
    session: AsyncSession, *, actor: Actor, customer_id: uuid.UUID | None, limit: int
) -> list[Policy]:
    if not actor.has(Permission.POLICIES_READ):
        return []
    return await repository.listing(
        session,
        visible_customers=customers.visible_ids(actor),
        customer_id=customer_id,
        limit=limit,
    )


async def transactions(session: AsyncSession, policy_id: uuid.UUID) -> list[PolicyTransaction]:
    """The policy's whole history in the order recorded (the caller checked it may see it)."""
    return await repository.transactions(session, policy_id)


async def history_for(
    session: AsyncSession, policy_id: uuid.UUID, *, actor: Actor
) -> Result[list[PolicyTransaction], DomainError]:
    match await get_policy(session, policy_id, actor=actor):
        case Err() as err:
            return err
        case Ok(policy):
            return Ok(await repository.transactions(session, policy.id))
    raise AssertionError("unreachable")  # pragma: no cover


async def states_today(
    session: AsyncSession, policies: list[Policy], on: date
) -> dict[uuid.UUID, AsOf]:
    """Each listed policy's state on ``on``, from one query for all their histories."""
    histories = await repository.transactions_of(session, [p.id for p in policies])
    return {p.id: state_as_of(histories.get(p.id, []), on) for p in policies}


@dataclass(frozen=True, slots=True)
class InForce:
    """Policies of one product in one state in force on a day, and their term premium."""

    product_code: str
    state: str
    count: int
    premium: Decimal


async def in_force_on(session: AsyncSession, on: date) -> list[InForce]:
    """By product and state: the policies in force on ``on`` and their term premium (one
    aggregate query: the book is never loaded)."""
    return [
        InForce(product_code, state, count, premium)
        for product_code, state, count, premium in await repository.in_force_totals(session, on)
    ]
