"""Binding a quote into a policy: exactly once per quote, whatever the concurrency."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    invalid,
)
from pd_prime_demo.policies import repository, rules
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.service.common import (
    PERMISSION_MISSING,
    priced,
    proration_of,
    record,
)
from pd_prime_demo.premium.proration import add_months
from pd_prime_demo.products import service as products
from pd_prime_demo.quotes import service as quotes
from pd_prime_demo.rating.packages import rate_packages


@dataclass(frozen=True, slots=True)
class Bound:
    policy: Policy
    created: bool  # False: the quote was already bound, and this is its policy
    history: list[PolicyTransaction] | None  # known when just created: its one transaction


async def bind_quote(
    session: AsyncSession,
    quote_id: uuid.UUID,
    *,
    option: str | None,
    payment_plan: str,
    actor: Actor,
) -> Result[Bound, DomainError]:
    """Bind a quoted or approved quote; binding the same quote again returns its policy.

    The quote row is locked first, so concurrent binds of one quote serialise: the second
    finds it bound and returns the same policy (and the unique quote_id is the last guard).
    """
    if not actor.has(Permission.POLICIES_WRITE):
        return Err(PERMISSION_MISSING)
    match await quotes.get_quote(session, quote_id, actor=actor, for_update=True):
        case Err() as err:
            return err
        case Ok(quote):
            pass
    if quote.status == "bound":
        existing = await repository.by_quote(session, quote.id)
        assert existing is not None
        return Ok(Bound(existing, created=False, history=None))
    if quote.status not in quotes.BINDABLE_STATUSES:
        return Err(conflict("quote.not_bindable", f"a {quote.status} quote cannot be bound"))
    if quote.effective_on < clock.today():
        return Err(conflict("quote.effective_date_passed", "re-quote with a current date"))
    names = [o["name"] for o in quote.options]
    chosen = option or names[0]
    if chosen not in names:
        return Err(
            invalid(
                "policy.unknown_option",
                "no such package on this quote",
                FieldIssue("#/option", f"must be one of {names}"),
            )
        )
    package = quote.options[names.index(chosen)]
    assert quote.product_version_id is not None
    version = await products.compiled_version(session, quote.product_version_id)
    match rate_packages(version.definition, version.engine, quote.risk, [package], quote.surcharge):
        case Err() as err:
            return err
        case Ok(rated):
            result = rated.results[0][1]
    defn = version.definition
    if payment_plan not in {p.code for p in billing.plans_for(defn)}:
        return Err(
            invalid(
                "policy.unknown_payment_plan",
                "the product does not offer this plan",
                FieldIssue("#/payment_plan", "unknown plan"),
            )
        )
    start = quote.effective_on
    serial = await repository.next_serial(session)
    policy = Policy(
        id=uuid.uuid4(),
        serial=serial,
        number=f"{defn.policy_number_prefix}-{quote.state}-{serial:07d}",
        quote_id=quote.id,
        customer_id=quote.customer_id,
        product_code=quote.product_code,
        state=quote.state,
        inception_on=start,
        payment_plan=payment_plan,
        created_at=clock.now(),
        created_by=actor.id,
    )
    session.add(policy)
    await session.flush()  # the billing account and the transaction refer to it
    billing_opening = billing.AccountOpening(
        policy_id=policy.id,
        policy_number=policy.number,
        policy_serial=serial,
        customer_id=policy.customer_id,
        product_code=policy.product_code,
        state=policy.state,
        payment_plan=payment_plan,
        rules=defn.billing,
    )
    await billing.open_account(session, billing_opening)
    transition = rules.issue(
        term_start=start,
        term_end=add_months(start, defn.term_months),
        option=chosen,
        coverages=package.get("coverages", {}),
        risk=quote.risk,
        priced=priced(version, result),
        surcharge=quote.surcharge,
        payment_plan=payment_plan,
        insured_id=quote.customer_id,
        proration=proration_of(version),
    )
    new_business = await record(session, policy, transition, version=version, actor=actor)
    await quotes.mark_bound(session, quote, policy_id=policy.id, option=chosen, actor=actor)
    return Ok(Bound(policy, created=True, history=[new_business]))
