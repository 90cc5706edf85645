"""Endorsements: a change of risk or coverages, given as a JSON merge patch (RFC 7396) of the
state in force on its date, re-rated on the term's version and prorated.

An endorsement goes through the product's underwriting rules as a quote does: a rule it newly
triggers that declines refuses it (422 ``policy.change_declined``); one that refers holds it as
a referred change until an underwriter with enough authority approves or declines it. Rules the
policy already met when it was bound do not fire again. The date may be before later
transactions (see ``service.sequence``).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    ErrorKind,
    FieldIssue,
    Ok,
    Result,
)
from pd_prime_demo.policies import repository, rules
from pd_prime_demo.policies.enums import ChangeStatus, ConflictResolution, TransactionKind
from pd_prime_demo.policies.models import Policy, PolicyChange, PolicyTransaction
from pd_prime_demo.policies.service.common import backdating_problem, writable_policy
from pd_prime_demo.policies.service.intents import Intent, in_effect
from pd_prime_demo.policies.service.sequence import Applied, change, plan, versions_for
from pd_prime_demo.policies.state import PolicyState
from pd_prime_demo.products import service as products
from pd_prime_demo.rating.engine import RuleHit, underwrite
from pd_prime_demo.rating.packages import rate_packages


@dataclasses.dataclass(frozen=True, slots=True)
class Referred:
    """The endorsement waits for an underwriter."""

    change: PolicyChange


def state_on(history: list[PolicyTransaction], on: date) -> PolicyState | None:
    current = [t for t in in_effect(history) if t.effective_on <= on]
    if not current:
        return None
    latest = max(current, key=lambda t: (t.effective_on, t.seq))
    return PolicyState.from_json(latest.snapshot)


def _hits(
    version: products.CompiledVersion, state: PolicyState, risk: Any, coverages: Any
) -> list[RuleHit] | None:
    package = {"name": state.option, "coverages": coverages}
    match rate_packages(version.definition, version.engine, risk, [package], state.surcharge):
        case Ok(rated):
            return underwrite(version.engine, rated.risk)
        case Err():
            return None  # the change itself is invalid: applying it says how
    raise AssertionError("unreachable")  # pragma: no cover


def newly_triggered(
    version: products.CompiledVersion, state: PolicyState, intent: Intent
) -> list[RuleHit]:
    """The underwriting rules the changed state triggers that the state before did not."""
    risk = rules.merge_patch(state.risk, intent.data.get("risk") or {})
    coverages = rules.merge_patch(state.coverages, intent.data.get("coverages") or {})
    after = _hits(version, state, risk, coverages) or []
    before = {(h.code, h.where) for h in _hits(version, state, state.risk, state.coverages) or []}
    return [h for h in after if (h.code, h.where) not in before]


async def _triggered_later(
    session: AsyncSession,
    history: list[PolicyTransaction],
    intent: Intent,
    on_conflict: ConflictResolution,
    found: list[RuleHit],
) -> list[RuleHit]:
    """Out of sequence, the rules that the later transactions, re-applied on top of the change,
    newly trigger: a back-dated change can make a later state one the rules refer or decline
    although neither change does alone."""
    if not any(t.effective_on > intent.effective_on for t in in_effect(history)):
        return []  # in sequence: nothing is re-applied
    versions = await versions_for(session, [t.product_version_id for t in history])
    match plan(history, intent, versions=versions, on_conflict=on_conflict):
        case Err():
            return []  # applying it says why
        case Ok(batch):
            pass
    seen = {(h.code, h.where) for h in found}
    hits: list[RuleHit] = []
    for original, entry, _ in batch.reapply:
        after, before = entry.transition.state, PolicyState.from_json(original.snapshot)
        if (after.risk, after.coverages) == (before.risk, before.coverages):
            continue
        version = versions[after.product_version_id]
        had = _hits(versions[before.product_version_id], before, before.risk, before.coverages)
        seen |= {(h.code, h.where) for h in had or []}
        for hit in _hits(version, after, after.risk, after.coverages) or []:
            if (hit.code, hit.where) not in seen:
                seen.add((hit.code, hit.where))
                hits.append(hit)
    return hits


async def endorse(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    effective_on: date,
    risk: dict[str, Any] | None,
    coverages: dict[str, Any] | None,
    note: str | None = None,
    on_conflict: ConflictResolution = ConflictResolution.REFUSE,
    expected_version: int | None = None,
    actor: Actor,
) -> Result[Applied | Referred, DomainError]:
    """Endorse the policy effective ``effective_on``: applied now, or referred."""
    match await writable_policy(session, policy_id, actor=actor, expected_version=expected_version):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    history = await repository.transactions(session, policy.id)
    intent = Intent(
        TransactionKind.ENDORSEMENT,
        effective_on,
        {k: v for k, v in (("risk", risk), ("coverages", coverages)) if v is not None},
        note,
    )
    state = state_on(history, effective_on)
    if state is None or not state.covers(effective_on):
        return await change(session, policy, intent, actor=actor, history=history)  # says why
    version = await products.compiled_version(session, state.product_version_id)
    if (problem := backdating_problem(version, effective_on, actor)) is not None:
        return Err(problem)
    hits = newly_triggered(version, state, intent)
    hits += await _triggered_later(session, history, intent, on_conflict, hits)
    if declines := [h for h in hits if h.action == "decline"]:
        return Err(_declined(declines))
    referrals = [h for h in hits if h.action == "refer"]
    needed = max((h.authority for h in referrals), default=0)
    if referrals and not (actor.has(Permission.UNDERWRITING_DECIDE) and actor.authority >= needed):
        return await _refer(session, policy, history, intent, on_conflict, referrals, actor)
    return await change(
        session, policy, intent, actor=actor, on_conflict=on_conflict, history=history
    )


def _declined(declines: list[RuleHit]) -> DomainError:
    return DomainError(
        ErrorKind.INVALID,
        "policy.change_declined",
        "the product's underwriting rules decline this change: "
        + "; ".join(h.reason for h in declines),
        errors=tuple(FieldIssue("#/risk", f"{h.code}: {h.reason}") for h in declines),
        extra={"rules": [dataclasses.asdict(h) for h in declines]},
    )


async def _refer(
    session: AsyncSession,
    policy: Policy,
    history: list[PolicyTransaction],
    intent: Intent,
    on_conflict: ConflictResolution,
    referrals: list[RuleHit],
    actor: Actor,
) -> Result[Applied | Referred, DomainError]:
    """Hold the change for underwriting, after checking that it would apply as asked."""
    versions = await versions_for(session, [t.product_version_id for t in history])
    match plan(history, intent, versions=versions, on_conflict=on_conflict):
        case Err() as err:
            return err
        case Ok(batch):
            preview = batch.new.transition.premium_change
    referred = PolicyChange(
        id=uuid.uuid4(),
        policy_id=policy.id,
        kind=TransactionKind.ENDORSEMENT.value,
        effective_on=intent.effective_on,
        request={"data": intent.data, "note": intent.note, "on_conflict": on_conflict.value},
        status=ChangeStatus.REFERRED,
        underwriting={"hits": [dataclasses.asdict(h) for h in referrals]},
        required_authority=max(h.authority for h in referrals),
        premium_change=preview,
        requested_at=clock.now(),
        requested_by=actor.id,
    )
    session.add(referred)
    await session.flush()
    detail = {
        "change_id": str(referred.id),
        "effective_on": intent.effective_on.isoformat(),
        "rules": [h.code for h in referrals],
        "required_authority": referred.required_authority,
    }
    await audit.record(session, actor, "policy.change_referred", "policy", str(policy.id), detail)
    emit(
        session,
        "policy.change_referred",
        "policy",
        str(policy.id),
        detail,
        customer_id=policy.customer_id,
    )
    return Ok(Referred(referred))
