"""Renewals: offered ahead of expiry (re-rated with the version in force for renewals on the
renewal date), then accepted into a new term or lapsed; or a non-renewal with its reason."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    Ok,
    Result,
    conflict,
    not_found,
)
from pd_prime_demo.policies import service as policies
from pd_prime_demo.policies.models import PolicyTransaction, RenewalOffer
from pd_prime_demo.policies.rules import Earning, add_months
from pd_prime_demo.products import service as products

ZERO = Decimal(0)
MAX_OFFER_DAYS = 120  # the upper bound of Billing.renewal_offer_days


async def offer(
    session: AsyncSession, policy_id: uuid.UUID, *, actor: Actor
) -> Result[RenewalOffer, DomainError]:
    match await policies.writable_policy(session, policy_id, actor=actor):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    history = await policies.transactions(session, policy.id)
    latest = policies.latest_transaction(history)
    snap = latest.snapshot
    if snap.get("non_renewal"):
        return Err(conflict("policy.non_renewed", "the policy has been non-renewed"))
    if snap["status"] != "in_force":
        return Err(conflict("policy.not_in_force", "only a policy in force can be renewed"))
    term_end = date.fromisoformat(snap["term_end"])
    definition = await policies.definition_for(session, history[-1].product_version_id)
    window = definition.billing.renewal_offer_days
    if clock.today() < term_end - timedelta(days=window):
        return Err(
            conflict(
                "policy.renewal_too_early", f"renewals are offered within {window} days of expiry"
            )
        )
    existing = await session.scalar(
        select(RenewalOffer).where(
            RenewalOffer.policy_id == policy.id, RenewalOffer.term_start == term_end
        )
    )
    if existing is not None:
        return Ok(existing)
    match await products.select_version(
        session, policy.product_code, policy.state, term_end, renewal=True
    ):
        case Err() as err:
            return err
        case Ok(version):
            pass
    option = {"name": snap["option"], "coverages": snap["coverages"]}
    match await policies.rate_on(session, version.id, snap["risk"], option):
        case Err() as err:
            return err
        case Ok((version, result)):
            pass
    compiled = await products.compiled_products.get(session, version)
    new_end = add_months(term_end, compiled.definition.term_months)
    renewal = RenewalOffer(
        id=uuid.uuid4(),
        policy_id=policy.id,
        term_start=term_end,
        term_end=new_end,
        product_version_id=version.id,
        rate_version=version.version,
        premium=result.premium,
        fees=sum((f.amount for f in result.fees), ZERO),
        taxes=sum((t.amount for t in result.taxes), ZERO),
        snapshot=policies.snapshot_for(
            status="in_force",
            term_start=term_end,
            term_end=new_end,
            option=snap["option"],
            coverages=snap["coverages"],
            result=result,
            risk=snap["risk"],
            rate_version=version.version,
            version_id=version.id,
        ),
        status="offered",
        offered_at=clock.now(),
    )
    session.add(renewal)
    await session.flush()
    detail = {
        "term_start": term_end.isoformat(),
        "premium": str(result.premium),
        "rate_version": version.version,
    }
    await audit.record(session, actor, "policy.renewal_offered", "policy", str(policy.id), detail)
    emit(session, "policy.renewal_offered", "policy", str(policy.id), detail)
    return Ok(renewal)


async def accept(
    session: AsyncSession, policy_id: uuid.UUID, *, actor: Actor
) -> Result[PolicyTransaction, DomainError]:
    """Accept the open offer: a renewal transaction starts the new term."""
    match await policies.writable_policy(session, policy_id, actor=actor):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    renewal = await session.scalar(
        select(RenewalOffer)
        .where(RenewalOffer.policy_id == policy.id, RenewalOffer.status == "offered")
        .with_for_update()
    )
    if renewal is None:
        return Err(not_found("renewal_offer"))
    if clock.today() > renewal.term_start:
        return Err(conflict("policy.renewal_lapsed", "the offer lapsed at the end of the term"))
    txn = await policies.record_transaction(
        session,
        policy,
        kind="renewal",
        effective_on=renewal.term_start,
        term_start=renewal.term_start,
        term_end=renewal.term_end,
        version_id=renewal.product_version_id,
        premium_change=renewal.premium,
        fees_change=renewal.fees,
        taxes_change=renewal.taxes,
        snapshot=renewal.snapshot,
        earnings=[Earning(renewal.premium, renewal.term_start, renewal.term_end)],
        actor=actor,
    )
    renewal.status = "accepted"
    renewal.decided_at = clock.now()
    return Ok(txn)


async def lapse_due(session: AsyncSession) -> int:
    """Offers not accepted by the start of the new term lapse; the policy simply expires."""
    rows = (
        await session.scalars(
            select(RenewalOffer)
            .where(RenewalOffer.status == "offered", RenewalOffer.term_start < clock.today())
            .with_for_update(skip_locked=True)
        )
    ).all()
    actor = Actor.system("renewals")
    for renewal in rows:
        renewal.status = "lapsed"
        renewal.decided_at = clock.now()
        detail = {"term_start": renewal.term_start.isoformat()}
        await audit.record(
            session, actor, "policy.renewal_lapsed", "policy", str(renewal.policy_id), detail
        )
        emit(session, "policy.renewal_lapsed", "policy", str(renewal.policy_id), detail)
    return len(rows)


async def non_renew(
    session: AsyncSession, policy_id: uuid.UUID, *, reason: str, actor: Actor
) -> Result[PolicyTransaction, DomainError]:
    """Notice that the policy will not renew; cover runs to the end of the term."""
    match await policies.writable_policy(session, policy_id, actor=actor):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    history = await policies.transactions(session, policy.id)
    latest = policies.latest_transaction(history)
    snap = latest.snapshot
    if snap["status"] != "in_force" or snap.get("non_renewal"):
        return Err(
            conflict("policy.not_renewable", "the policy is not in force or already non-renewed")
        )
    on = max(clock.today(), latest.effective_on)
    txn = await policies.record_transaction(
        session,
        policy,
        kind="non_renewal",
        effective_on=on,
        term_start=latest.term_start,
        term_end=latest.term_end,
        version_id=latest.product_version_id,
        premium_change=ZERO,
        fees_change=ZERO,
        taxes_change=ZERO,
        snapshot={**snap, "non_renewal": {"reason": reason, "notice_on": on.isoformat()}},
        earnings=[],
        actor=actor,
        reason_code="non_renewal",
        note=reason,
    )
    return Ok(txn)


async def offer_due(session: AsyncSession) -> int:
    """Offer renewals for every policy inside its product's offer window (the daily job)."""
    actor = Actor.system("renewals")
    offered = 0
    today = clock.today()
    # Candidates: terms ending within the longest window a product may declare.
    candidates = (
        await session.scalars(
            select(PolicyTransaction.policy_id)
            .where(
                PolicyTransaction.term_end >= today,
                PolicyTransaction.term_end <= today + timedelta(days=MAX_OFFER_DAYS),
            )
            .distinct()
        )
    ).all()
    histories = await policies.transactions_of(session, list(candidates))
    for policy_id, history in histories.items():
        latest = policies.latest_transaction(history)
        snap = latest.snapshot
        if snap["status"] != "in_force" or snap.get("non_renewal"):
            continue
        end = date.fromisoformat(snap["term_end"])
        if not clock.today() <= end:
            continue
        result = await offer(session, policy_id, actor=actor)
        if isinstance(result, Ok) and result.value.offered_at.date() == clock.today():
            offered += 1
    return offered
