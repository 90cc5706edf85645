"""What every policy use case shares: finding a policy the actor may change, pricing a state on
a product version, and recording a transition (the transaction row, its audit entry and event,
its billing, and its declarations page, all in the caller's database transaction)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    Ok,
    Result,
    forbidden,
    invalid,
    not_found,
    stale_version,
)
from pd_prime_demo.customers import service as customers
from pd_prime_demo.policies import repository
from pd_prime_demo.policies.enums import TransactionKind
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.rules import Priced, Transition
from pd_prime_demo.policies.service import policy_documents
from pd_prime_demo.policies.state import PolicyState
from pd_prime_demo.premium.earning import earnings_from_json, earnings_json
from pd_prime_demo.premium.proration import ZERO, Proration
from pd_prime_demo.products import service as products
from pd_prime_demo.rating.engine import RatingResult
from pd_prime_demo.rating.packages import rate_packages

NOT_FOUND = not_found("policy")
PERMISSION_MISSING = forbidden("auth.permission_missing", "this requires policies:write")


async def get_policy(
    session: AsyncSession, policy_id: uuid.UUID, *, actor: Actor, for_update: bool = False
) -> Result[Policy, DomainError]:
    """The policy if ``actor`` may see its customer; 404 otherwise."""
    if not actor.has(Permission.POLICIES_READ):
        return Err(NOT_FOUND)
    policy = await repository.get(
        session, policy_id, visible_customers=customers.visible_ids(actor), for_update=for_update
    )
    return Ok(policy) if policy is not None else Err(NOT_FOUND)


async def writable_policy(
    session: AsyncSession,
    policy_id: uuid.UUID,
    *,
    actor: Actor,
    expected_version: int | None = None,
) -> Result[Policy, DomainError]:
    """The policy, locked for a change, if ``actor`` may change it (404 if it may not see it)
    and, when ``expected_version`` is given (If-Match), nobody changed it since (412)."""
    if not actor.has(Permission.POLICIES_WRITE):
        return Err(PERMISSION_MISSING)
    match await get_policy(session, policy_id, actor=actor, for_update=True):
        case Ok(policy) if expected_version is not None and policy.version != expected_version:
            return Err(stale_version("policy"))
        case found:
            return found


def backdating_problem(
    version: products.CompiledVersion, effective_on: date, actor: Actor
) -> DomainError | None:
    """A change may be effective in the past within the product's window; beyond it only
    for someone with underwriting authority."""
    issues = products.effective_date_issues(version, effective_on, actor=actor)
    if not issues:
        return None
    return invalid(
        "policy.effective_date_out_of_window", "the change's effective date is not allowed", *issues
    )


def state_of(txn: PolicyTransaction) -> PolicyState:
    return PolicyState.from_json(txn.snapshot)


def transition_of(txn: PolicyTransaction) -> Transition:
    """A recorded transaction as the transition it recorded."""
    return Transition(
        TransactionKind(txn.kind),
        txn.effective_on,
        state_of(txn),
        txn.premium_change,
        txn.fees_change,
        txn.taxes_change,
        tuple(earnings_from_json(txn.earnings)),
        txn.reason_code,
        txn.note,
    )


def in_order(txn: PolicyTransaction) -> tuple[date, int]:
    """The order transactions take effect in: by effective date, then as recorded."""
    return txn.effective_on, txn.seq


def latest_transaction(history: list[PolicyTransaction]) -> PolicyTransaction:
    """The transaction in effect last: the one whose state is the policy's current state."""
    return max(history, key=in_order)


def priced(version: products.CompiledVersion, result: RatingResult) -> Priced:
    return Priced(
        version_id=version.id,
        rate_version=version.version,
        coverage_premiums=dict(result.coverage_premiums),
        premium=result.premium,
        fees=sum((f.amount for f in result.fees), ZERO),
        taxes=sum((t.amount for t in result.taxes), ZERO),
    )


def price(
    version: products.CompiledVersion,
    *,
    risk: dict[str, Any],
    option: str,
    coverages: dict[str, dict[str, str]],
    surcharge: Decimal | None,
) -> Result[Priced, DomainError]:
    """Rate one package on ``version``; problems point into an endorsement's body."""
    match rate_packages(
        version.definition,
        version.engine,
        risk,
        [{"name": option, "coverages": coverages}],
        surcharge,
        pointer="#/coverages",
    ):
        case Err() as err:
            return err
        case Ok(rated):
            return Ok(priced(version, rated.results[0][1]))
    raise AssertionError("unreachable")  # pragma: no cover


def proration_of(version: products.CompiledVersion) -> Proration:
    return Proration(version.definition.proration)


def cover_ends_on(state: PolicyState) -> date | None:
    """When cover of the state's term ends early (a cancellation), or None."""
    return state.cancellation.effective_on if state.cancellation is not None else None


async def record(
    session: AsyncSession,
    policy: Policy,
    transition: Transition,
    *,
    version: products.CompiledVersion,
    actor: Actor,
    change: dict[str, Any] | None = None,
    reverses_seq: int | None = None,
    reapplies_seq: int | None = None,
    term_state: PolicyState | None = None,
    settle: bool = True,
) -> PolicyTransaction:
    """Record ``transition`` as the policy's next transaction, with everything that follows:
    its audit entry and event, its billing, and its declarations page (a reversal has none).

    ``term_state`` is the state that governs the transaction's term once it is recorded (by
    default its own; in an out-of-sequence batch, a reversal's term is governed by what is left
    in effect), which says whether cover of the term ends early; ``settle=False`` leaves
    fitting the installments and refunding to the caller (a batch settles once, at its end).
    """
    state = transition.state
    kind = transition.kind
    # New business opens the history; (policy_id, seq) is unique, so a mistake cannot slip by.
    seq = (
        1 if kind is TransactionKind.NEW_BUSINESS else await repository.next_seq(session, policy.id)
    )
    txn = PolicyTransaction(
        id=uuid.uuid4(),
        policy_id=policy.id,
        seq=seq,
        kind=kind.value,
        effective_on=transition.effective_on,
        accounting_on=max(transition.effective_on, clock.today()),
        term_start=state.term_start,
        term_end=state.term_end,
        product_version_id=version.id,
        premium_change=transition.premium_change,
        fees_change=transition.fees_change,
        taxes_change=transition.taxes_change,
        snapshot=state.to_json(),
        earnings=earnings_json(transition.earnings),
        reason_code=transition.reason_code,
        note=transition.note,
        change=change or {},
        reverses_seq=reverses_seq,
        reapplies_seq=reapplies_seq,
        created_at=clock.now(),
        created_by=actor.id,
    )
    session.add(txn)
    await session.flush()
    summary = {
        "seq": seq,
        "effective_on": transition.effective_on.isoformat(),
        "premium_change": str(transition.premium_change),
        "reason_code": transition.reason_code,
    }
    if reverses_seq is not None:
        summary["reverses_seq"] = reverses_seq
    if reapplies_seq is not None:
        summary["reapplies_seq"] = reapplies_seq
    await audit.record(session, actor, f"policy.{kind}", "policy", str(policy.id), summary)
    emit(
        session,
        f"policy.{kind}",
        "policy",
        str(policy.id),
        {"number": policy.number, **summary},
        customer_id=policy.customer_id,
    )
    await billing.on_transaction(
        session,
        billing.PremiumChange(
            policy_id=policy.id,
            source_id=txn.id,
            source=f"policy.{kind}",
            memo=f"{policy.number} {kind} effective {txn.effective_on.isoformat()}",
            effective_on=txn.effective_on,
            accounting_on=txn.accounting_on,
            term_start=txn.term_start,
            term_end=txn.term_end,
            term_months=version.definition.term_months,
            premium=txn.premium_change,
            fees=txn.fees_change,
            taxes=txn.taxes_change,
            earnings=transition.earnings,
            opens_term=kind in (TransactionKind.NEW_BUSINESS, TransactionKind.RENEWAL),
            cover_ends_on=cover_ends_on(term_state or state),
        ),
        settle=settle,
    )
    if kind is not TransactionKind.REVERSAL:
        await render_declarations(session, policy, txn, state, version)
    return txn


async def render_declarations(
    session: AsyncSession,
    policy: Policy,
    txn: PolicyTransaction,
    state: PolicyState,
    version: products.CompiledVersion,
) -> uuid.UUID:
    """The page of ``txn``, rated under ``version`` (and the notice a cancellation or a
    non-renewal sends): recorded in ``session``'s transaction and drawn by a job once it
    commits."""
    return await policy_documents.request_documents(session, policy, txn, state, version)
