"""Renewals: offered ahead of expiry (re-rated with the version in force for renewals on the
renewal date), then accepted into a new term or lapsed; or a non-renewal with its reason."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, conflict, not_found
from pd_prime_demo.policies import repository, rules
from pd_prime_demo.policies.enums import PolicyStatus, RenewalStatus, TransactionKind
from pd_prime_demo.policies.models import RenewalOffer
from pd_prime_demo.policies.service.common import (
    latest_transaction,
    price,
    proration_of,
    state_of,
    writable_policy,
)
from pd_prime_demo.policies.service.intents import Intent, in_effect
from pd_prime_demo.policies.service.sequence import Applied, change
from pd_prime_demo.premium.proration import add_months
from pd_prime_demo.products import service as products

MAX_OFFER_DAYS = 120  # the upper bound of Billing.renewal_offer_days


async def offer(
    session: AsyncSession, policy_id: uuid.UUID, *, actor: Actor
) -> Result[RenewalOffer, DomainError]:
    match await writable_policy(session, policy_id, actor=actor):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    latest = latest_transaction(await repository.transactions(session, policy.id))
    state = state_of(latest)
    if state.non_renewal is not None:
        return Err(conflict("policy.non_renewed", "the policy has been non-renewed"))
    if state.status is not PolicyStatus.IN_FORCE:
        return Err(conflict("policy.not_in_force", "only a policy in force can be renewed"))
    term_end = state.term_end
    current = await products.compiled_version(session, latest.product_version_id)
    window = current.definition.billing.renewal_offer_days
    if clock.today() < term_end - timedelta(days=window):
        return Err(
            conflict(
                "policy.renewal_too_early", f"renewals are offered within {window} days of expiry"
            )
        )
    if (
        existing := await repository.renewals.renewal_offer(session, policy.id, term_end)
    ) is not None:
        return Ok(existing)
    match await products.version_in_force(
        session, policy.product_code, policy.state, term_end, renewal=True
    ):
        case Err() as err:
            return err
        case Ok(version):
            pass
    # Renewals are priced on the risk and coverages in force, without the quote's surcharge.
    match price(
        version, risk=state.risk, option=state.option, coverages=state.coverages, surcharge=None
    ):
        case Err() as err:
            return err
        case Ok(priced):
            pass
    new_end = add_months(term_end, version.definition.term_months)
    offered = rules.renew(
        state.model_copy(update={"surcharge": None}),
        priced,
        term_end=new_end,
        proration=proration_of(version),
    )
    renewal = RenewalOffer(
        id=uuid.uuid4(),
        policy_id=policy.id,
        term_start=term_end,
        term_end=new_end,
        product_version_id=version.id,
        rate_version=version.version,
        premium=priced.premium,
        fees=priced.fees,
        taxes=priced.taxes,
        snapshot=offered.to_json(),
        status=RenewalStatus.OFFERED,
        offered_at=clock.now(),
    )
    session.add(renewal)
    await session.flush()
    detail = {
        "term_start": term_end.isoformat(),
        "premium": str(priced.premium),
        "rate_version": version.version,
    }
    await audit.record(session, actor, "policy.renewal_offered", "policy", str(policy.id), detail)
    emit(
        session,
        "policy.renewal_offered",
        "policy",
        str(policy.id),
        detail,
        customer_id=policy.customer_id,
    )
    return Ok(renewal)


async def accept(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    actor: Actor,
    expected_version: int | None = None,
) -> Result[Applied, DomainError]:
    """Accept the open offer: a renewal transaction starts the new term (priced as offered,
    since the offer is re-priced whenever the policy changes)."""
    match await writable_policy(session, policy_id, actor=actor, expected_version=expected_version):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    renewal = await repository.renewals.open_renewal_offer(session, policy.id)
    if renewal is None:
        return Err(not_found("renewal_offer"))
    if clock.today() > renewal.term_start:
        return Err(conflict("policy.renewal_lapsed", "the offer lapsed at the end of the term"))
    intent = Intent(
        TransactionKind.RENEWAL,
        renewal.term_start,
        {"product_version_id": str(renewal.product_version_id)},
    )
    match await change(session, policy, intent, actor=actor):
        case Err() as err:
            return err
        case Ok(applied):
            renewal.status = RenewalStatus.ACCEPTED
            renewal.decided_at = clock.now()
            return Ok(applied)
    raise AssertionError("unreachable")  # pragma: no cover


async def lapse_due(session: AsyncSession) -> int:
    """Offers not accepted by the start of the new term lapse; the policy simply expires
    (every one due, in this transaction: the worker runs it a chunk at a time instead)."""
    today = clock.today()
    rows = await repository.renewals.offers_to_lapse(session, today)
    return await lapse_offers(session, [r.id for r in rows], today=today)


async def offers_to_lapse(
    session: AsyncSession, *, today: date, after: tuple[date, uuid.UUID] | None, limit: int
) -> list[tuple[date, uuid.UUID]]:
    """A page of (term_start, id) keys of offers to lapse (the lapse sweep's planner)."""
    return await repository.renewals.offers_to_lapse_after(session, today, after, limit)


async def lapse_offers(session: AsyncSession, ids: list[uuid.UUID], *, today: date) -> int:
    """Lapse these offers if still open after their term began (one chunk of the sweep)."""
    rows = await repository.renewals.lock_offers_to_lapse(session, ids, today)
    actor = Actor.system("renewals")
    for renewal in rows:
        renewal.status = RenewalStatus.LAPSED
        renewal.decided_at = clock.now()
        detail = {"term_start": renewal.term_start.isoformat()}
        await audit.record(
            session, actor, "policy.renewal_lapsed", "policy", str(renewal.policy_id), detail
        )
        emit(session, "policy.renewal_lapsed", "policy", str(renewal.policy_id), detail)
    return len(rows)


async def non_renew(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    reason: str,
    actor: Actor,
    expected_version: int | None = None,
) -> Result[Applied, DomainError]:
    """Notice that the policy will not renew; cover runs to the end of the term."""
    match await writable_policy(session, policy_id, actor=actor, expected_version=expected_version):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    history = await repository.transactions(session, policy.id)
    latest = max(in_effect(history), key=lambda t: (t.effective_on, t.seq))
    state = state_of(latest)
    if state.status is not PolicyStatus.IN_FORCE or state.non_renewal is not None:
        return Err(
            conflict("policy.not_renewable", "the policy is not in force or already non-renewed")
        )
    notice_on = max(clock.today(), latest.effective_on)
    intent = Intent(TransactionKind.NON_RENEWAL, notice_on, {"reason": reason}, reason)
    return await change(session, policy, intent, actor=actor, history=history)


async def offer_due(session: AsyncSession) -> int:
    """Offer renewals for every policy inside its product's offer window (every one, in this
    transaction: the worker runs it a chunk at a time instead)."""
    today = clock.today()
    # Candidates: terms ending within the longest window a product may declare.
    candidates = await repository.renewals.terms_ending_between(
        session, today, today + timedelta(days=MAX_OFFER_DAYS)
    )
    return await offer_renewals(session, list(candidates), today=today)


async def renewal_candidates(
    session: AsyncSession, *, today: date, after: tuple[date, uuid.UUID] | None, limit: int
) -> list[tuple[date, uuid.UUID]]:
    """A page of (term_end, policy_id) keys of terms ending within the longest offer window
    a product may declare (the offer sweep's planner)."""
    return await repository.renewals.terms_ending_after(
        session, today, today + timedelta(days=MAX_OFFER_DAYS), after, limit
    )


async def offer_renewals(session: AsyncSession, policy_ids: list[uuid.UUID], *, today: date) -> int:
    """Offer renewals to these policies where due (one chunk of the sweep): ``offer`` locks
    each policy and returns the offer it finds made, so a chunk re-done offers nothing twice."""
    actor = Actor.system("renewals")
    offered = 0
    histories = await repository.transactions_of(session, sorted(set(policy_ids)))
    for policy_id, history in histories.items():
        state = state_of(latest_transaction(history))
        if state.status is not PolicyStatus.IN_FORCE or state.non_renewal is not None:
            continue
        if not today <= state.term_end:
            continue
        result = await offer(session, policy_id, actor=actor)
        if isinstance(result, Ok) and result.value.offered_at.date() == clock.today():
            offered += 1
    return offered
