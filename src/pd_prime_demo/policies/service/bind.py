"""Binding a quote into a policy: exactly once per quote, whatever the concurrency."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from opentelemetry.trace import Span
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.after_commit import after_commit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    ErrorKind,
    FieldIssue,
    Ok,
    Result,
    conflict,
    forbidden,
    invalid,
)
from pd_prime_demo.core.telemetry import POLICIES_BOUND, WRITTEN_PREMIUM
from pd_prime_demo.core.tracing import annotate, business_span
from pd_prime_demo.policies import repository, rules
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.service.common import (
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


def _chosen_option(option: str | None, names: list[str]) -> Result[str, DomainError]:
    """The package to bind: the one named, or the only one; asked for when there are several."""
    if option is None:
        if len(names) == 1:
            return Ok(names[0])
        return Err(
            invalid(
                "policy.option_required",
                "this quote has several packages: say which one to bind",
                FieldIssue("#/option", f"must be one of {names}"),
            )
        )
    if option not in names:
        return Err(
            invalid(
                "policy.unknown_option",
                "no such package on this quote",
                FieldIssue("#/option", f"must be one of {names}"),
            )
        )
    return Ok(option)


async def _already_bound(
    session: AsyncSession, quote_id: uuid.UUID, option: str, payment_plan: str
) -> Result[Bound, DomainError]:
    """The same bind again returns the policy; a different one is a conflict naming it."""
    existing = await repository.by_quote(session, quote_id)
    assert existing is not None
    first = await repository.transactions(session, existing.id)
    bound_option = first[0].snapshot["option"]
    if (option, payment_plan) != (bound_option, existing.payment_plan):
        return Err(
            DomainError(
                ErrorKind.CONFLICT,
                "policy.already_bound",
                f"this quote is already bound into policy {existing.number} "
                f"(package {bound_option!r}, {existing.payment_plan} plan)",
                extra={"policy_id": str(existing.id), "policy_number": existing.number},
            )
        )
    return Ok(Bound(existing, created=False, history=None))


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
    with business_span("policy.bind", package=option, payment_plan=payment_plan) as span:
        outcome = await _bind(session, quote_id, option, payment_plan, actor, span)
        match outcome:
            case Ok(done):
                annotate(span, outcome="bound" if done.created else "already_bound")
            case Err(error):
                annotate(span, outcome=error.code)
        return outcome


async def _bind(
    session: AsyncSession,
    quote_id: uuid.UUID,
    option: str | None,
    payment_plan: str,
    actor: Actor,
    span: Span,
) -> Result[Bound, DomainError]:
    if not actor.has(Permission.POLICIES_BIND):
        return Err(forbidden("auth.permission_missing", "this requires policies:bind"))
    match await quotes.get_quote(session, quote_id, actor=actor, for_update=True):
        case Err() as err:
            return err
        case Ok(quote):
            pass
    # Codes and versions only: the quote's risk (names, dates of birth, VINs) stays out.
    annotate(span, product=quote.product_code, state=quote.state)
    if quote.rate_version is not None:
        annotate(span, rate_version=quote.rate_version)
    bound = quote.status == quotes.QuoteStatus.BOUND
    if not bound and quote.status not in quotes.BINDABLE_STATUSES:
        return Err(conflict("quote.not_bindable", f"a {quote.status} quote cannot be bound"))
    names = [o["name"] for o in quote.options]
    match _chosen_option(option, names):
        case Err() as err:
            return err
        case Ok(chosen):
            pass
    annotate(span, package=chosen)
    if bound:
        return await _already_bound(session, quote.id, chosen, payment_plan)
    package = quote.options[names.index(chosen)]
    annotate(span, coverages=len(package.get("coverages", {})))
    assert quote.product_version_id is not None
    version = await products.compiled_version(session, quote.product_version_id)
    # A back-dated bind, within the product's window (further back: an underwriter).
    if quote.effective_on < clock.today() and products.effective_date_issues(
        version, quote.effective_on, actor=actor
    ):
        return Err(
            conflict(
                "quote.effective_date_passed",
                "the quote's effective date is further back than the product allows: re-quote",
            )
        )
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
    _count_bound(session, policy, new_business.premium_change, defn.currency)
    annotate(span, policy_id=str(policy.id), premium=str(new_business.premium_change))
    return Ok(Bound(policy, created=True, history=[new_business]))


def _count_bound(session: AsyncSession, policy: Policy, written: Decimal, currency: str) -> None:
    """Count the policy and its written premium once the bind has committed (a bind that
    rolls back, or a repeated bind returning the same policy, counts nothing)."""
    labels = (policy.product_code, policy.state)
    after_commit(session, POLICIES_BOUND.labels(*labels).inc)
    # The premium's one conversion to float, as the counter's value: Prometheus counts in
    # floats, and a dashboard's sum of premium needs no cent-exact arithmetic (the ledger and
    # the reports keep the Decimals).
    premium = WRITTEN_PREMIUM.labels(*labels, currency)
    after_commit(session, lambda: premium.inc(float(written)))
