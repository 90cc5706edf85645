"""Cancellations (the insured's request, non-payment, underwriting) and reinstatements."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core.actor import Actor
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
from pd_prime_demo.policies.enums import CancellationReason, TransactionKind
from pd_prime_demo.policies.models import PolicyTransaction
from pd_prime_demo.policies.service.common import (
    latest_transaction,
    proration_of,
    record,
    state_of,
    transition_of,
    writable_policy,
)
from pd_prime_demo.policies.service.endorse import changeable
from pd_prime_demo.premium.cancellation import CancellationTerms, ShortRate, ShortRateBasis
from pd_prime_demo.premium.earning import earnings_from_json
from pd_prime_demo.premium.proration import ZERO, Proration
from pd_prime_demo.products import service as products


def cancellation_terms(version: products.CompiledVersion) -> CancellationTerms:
    """The product's cancellation rules, as the arithmetic takes them."""
    rules_ = version.definition.cancellation
    basis = ShortRateBasis(rules_.short_rate_basis)
    return CancellationTerms(
        short_rate=tuple(
            ShortRate(_bound(r.up_to_percent, r.up_to_days, basis), r.earned_percent)
            for r in rules_.short_rate_table
        ),
        short_rate_basis=basis,
        return_percent_of_pro_rata=rules_.return_percent_of_pro_rata,
        minimum_earned=rules_.minimum_earned_premium,
        proration=Proration(version.definition.proration),
    )


def _bound(percent: Decimal | None, days: int | None, basis: ShortRateBasis) -> Decimal:
    value = percent if basis is ShortRateBasis.PERCENT_OF_TERM else days
    assert value is not None, "a product's short-rate rows carry their basis' key (validated)"
    return Decimal(value)


def term_figures(history: list[PolicyTransaction], term_start: date) -> rules.TermFigures:
    term = [t for t in history if t.term_start == term_start]
    return rules.TermFigures(
        written=sum((t.premium_change for t in term), ZERO),
        taxes_written=sum((t.taxes_change for t in term), ZERO),
        earnings=tuple(e for t in term for e in earnings_from_json(t.earnings)),
    )


async def cancel(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    effective_on: date,
    reason_code: str,
    note: str | None,
    actor: Actor,
) -> Result[PolicyTransaction, DomainError]:
    """Cancel; return premium by the product's method for the insured's own request, pro-rata
    when the carrier cancels (non-payment, underwriting), flat when effective at inception."""
    match await changeable(session, policy_id, effective_on, actor):
        case Err() as err:
            return err
        case Ok((policy, history, state)):
            pass
    version = await products.compiled_version(session, state.product_version_id)
    transition = rules.cancel(
        state,
        term_figures(history, state.term_start),
        effective_on=effective_on,
        reason=CancellationReason(reason_code),
        product_method=version.definition.cancellation.method,
        terms=cancellation_terms(version),
        note=note,
    )
    return Ok(await record(session, policy, transition, version=version, actor=actor))


async def reinstate(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    effective_on: date | None,
    note: str | None,
    actor: Actor,
) -> Result[PolicyTransaction, DomainError]:
    """Reverse a cancellation: from its own date (no lapse), or later (with a lapse in cover)."""
    match await writable_policy(session, policy_id, actor=actor):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    history = await repository.transactions(session, policy.id)
    latest = latest_transaction(history)
    if latest.kind != TransactionKind.CANCELLATION:
        return Err(conflict("policy.not_cancelled", "only a cancelled policy can be reinstated"))
    cancelled_on = latest.effective_on
    on = effective_on or cancelled_on
    if not cancelled_on <= on < latest.term_end:
        return Err(
            invalid(
                "policy.invalid_reinstatement_date",
                "a reinstatement is effective between the cancellation and the term's end",
                FieldIssue("#/effective_on", "outside the cancelled period"),
            )
        )
    version = await products.compiled_version(session, latest.product_version_id)
    transition = rules.reinstate(
        state_of(latest),
        transition_of(latest),
        effective_on=on,
        proration=proration_of(version),
        note=note,
    )
    return Ok(await record(session, policy, transition, version=version, actor=actor))


async def cancel_for_non_payment(
    session: AsyncSession, policy_id: uuid.UUID, *, on: date
) -> Result[bool, DomainError]:
    """The billing run's non-payment cancellation: if billing, asked under the policy's lock,
    says a notice has run out unpaid, cancel pro-rata from the date the notice gave."""
    actor = Actor.system("billing-run")
    match await writable_policy(session, policy_id, actor=actor):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    due = await billing.non_payment_cancellation_due(session, policy.id, on)
    if due is None:
        return Ok(False)
    match await cancel(
        session,
        policy.id,
        effective_on=due.effective_on,
        reason_code=CancellationReason.NON_PAYMENT,
        note=f"unpaid invoice {due.invoice_number}",
        actor=actor,
    ):
        case Ok():
            return Ok(True)
        case Err() as err:
            return err
    raise AssertionError("unreachable")  # pragma: no cover
