"""Cancellations (the insured's request, non-payment, underwriting) and reinstatements.

A cancellation may be effective before later transactions: they are reversed and re-applied
after it where they still can (``service.sequence``); an endorsement after the cancellation
date no longer can, and the request must say the cancellation wins (``on_conflict``).
"""

from __future__ import annotations

import uuid
from datetime import date

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
from pd_prime_demo.policies import repository
from pd_prime_demo.policies.enums import (
    CancellationReason,
    ConflictResolution,
    TransactionKind,
)
from pd_prime_demo.policies.service.common import backdating_problem, writable_policy
from pd_prime_demo.policies.service.endorse import state_on
from pd_prime_demo.policies.service.intents import Intent, in_effect
from pd_prime_demo.policies.service.sequence import Applied, change
from pd_prime_demo.products import service as products


async def cancel(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    effective_on: date,
    reason_code: str,
    note: str | None,
    actor: Actor,
    on_conflict: ConflictResolution = ConflictResolution.REFUSE,
    expected_version: int | None = None,
) -> Result[Applied, DomainError]:
    """Cancel; return premium by the product's method for the insured's own request, pro-rata
    when the carrier cancels (non-payment, underwriting), flat when effective at inception."""
    match await writable_policy(session, policy_id, actor=actor, expected_version=expected_version):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    history = await repository.transactions(session, policy.id)
    state = state_on(history, effective_on)
    if state is not None and state.covers(effective_on):
        version = await products.compiled_version(session, state.product_version_id)
        if (problem := backdating_problem(version, effective_on, actor)) is not None:
            return Err(problem)
    intent = Intent(
        TransactionKind.CANCELLATION,
        effective_on,
        {"reason_code": CancellationReason(reason_code).value},
        note,
    )
    return await change(
        session, policy, intent, actor=actor, on_conflict=on_conflict, history=history
    )


async def reinstate(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    effective_on: date | None,
    note: str | None,
    actor: Actor,
    expected_version: int | None = None,
) -> Result[Applied, DomainError]:
    """Reverse a cancellation: from its own date (no lapse), or later (with a lapse in cover)."""
    match await writable_policy(session, policy_id, actor=actor, expected_version=expected_version):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    history = await repository.transactions(session, policy.id)
    latest = max(in_effect(history), key=lambda t: (t.effective_on, t.seq))
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
    intent = Intent(TransactionKind.REINSTATEMENT, on, {"lapse": on != cancelled_on}, note)
    return await change(session, policy, intent, actor=actor, history=history)


async def cancel_for_non_payment(
    session: AsyncSession, policy_id: uuid.UUID, *, on: date
) -> Result[bool, DomainError]:
    """The billing run's non-payment cancellation: if billing, asked under the policy's lock,
    says a notice has run out unpaid, cancel pro-rata from the date the notice gave. Later
    transactions (a future-dated endorsement, say) are reversed, and those that can no longer
    apply after the cancellation are dropped: the cancellation wins."""
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
        on_conflict=ConflictResolution.APPLY_NEW,
    ):
        case Ok():
            return Ok(True)
        case Err() as err:
            return err
    raise AssertionError("unreachable")  # pragma: no cover
