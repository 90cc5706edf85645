"""Endorsements: a mid-term change of risk or coverages, re-rated and prorated."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, conflict
from pd_prime_demo.policies import repository, rules
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.service.common import (
    latest_transaction,
    price,
    proration_of,
    record,
    state_of,
    writable_policy,
)
from pd_prime_demo.policies.state import PolicyState
from pd_prime_demo.products import service as products


def out_of_sequence(latest: PolicyTransaction, effective_on: date) -> DomainError | None:
    if effective_on < latest.effective_on:
        return conflict(
            "policy.out_of_sequence",
            f"the policy has a transaction effective {latest.effective_on.isoformat()}; "
            "changes effective before it are refused (see docs/policies.md)",
        )
    return None


async def changeable(
    session: AsyncSession, policy_id: uuid.UUID, effective_on: date, actor: Actor
) -> Result[tuple[Policy, list[PolicyTransaction], PolicyState], DomainError]:
    """The policy, its history and current state, if a change effective then is allowed:
    the actor may change it, the date is not out of sequence, and cover is in force then."""
    match await writable_policy(session, policy_id, actor=actor):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    history = await repository.transactions(session, policy.id)
    latest = latest_transaction(history)
    if (problem := out_of_sequence(latest, effective_on)) is not None:
        return Err(problem)
    state = state_of(latest)
    if not state.covers(effective_on):
        return Err(conflict("policy.not_in_force", "the policy is not in force on that date"))
    return Ok((policy, history, state))


async def endorse(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    effective_on: date,
    risk: dict[str, Any] | None,
    coverages: dict[str, Any] | None,
    actor: Actor,
) -> Result[PolicyTransaction, DomainError]:
    """A mid-term change, re-rated on the term's version; the difference prorated by days."""
    match await changeable(session, policy_id, effective_on, actor):
        case Err() as err:
            return err
        case Ok((policy, _, state)):
            pass
    new_risk = risk if risk is not None else state.risk
    new_coverages = coverages if coverages is not None else state.coverages
    version = await products.compiled_version(session, state.product_version_id)
    match price(
        version,
        risk=new_risk,
        option=state.option,
        coverages=new_coverages,
        surcharge=state.surcharge,
    ):
        case Err() as err:
            return err
        case Ok(priced):
            pass
    transition = rules.endorse(
        state,
        priced,
        effective_on=effective_on,
        risk=new_risk,
        coverages=new_coverages,
        proration=proration_of(version),
    )
    return Ok(await record(session, policy, transition, version=version, actor=actor))
