"""Policy lifecycle: bind, endorse, cancel, reinstate, and reading any date's state.

Out-of-sequence changes are refused: an endorsement, cancellation or reinstatement may not be
effective before the policy's latest transaction (``policy.out_of_sequence``). Applying them by
re-playing later transactions is a documented future extension (docs/policies.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    forbidden,
    invalid,
    not_found,
)
from pd_prime_demo.customers import service as customers
from pd_prime_demo.policies import declarations
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.rules import (
    Earning,
    ShortRate,
    add_months,
    cents,
    earned_at_cancellation,
    earned_through,
    earnings_from_json,
    prorate,
)
from pd_prime_demo.products import service as products
from pd_prime_demo.products.models import ProductVersion
from pd_prime_demo.quotes import service as quotes
from pd_prime_demo.rating.definition import ProductVersionDefinition
from pd_prime_demo.rating.engine import RatingResult

NOT_FOUND = not_found("policy")


def document_not_found() -> Result[None, DomainError]:
    return Err(not_found("document"))


PREFIX = {"personal_auto": "PA", "homeowners_ho3": "HO"}
ZERO = Decimal(0)


def _earnings_json(earnings: list[Earning]) -> list[dict[str, Any]]:
    return [
        {"amount": str(e.amount), "start": e.start.isoformat(), "end": e.end.isoformat()}
        for e in earnings
    ]


def earnings_of(txn: PolicyTransaction) -> list[Earning]:
    return earnings_from_json(txn.earnings)


async def transactions(session: AsyncSession, policy_id: uuid.UUID) -> list[PolicyTransaction]:
    return list(
        (
            await session.scalars(
                select(PolicyTransaction)
                .where(PolicyTransaction.policy_id == policy_id)
                .order_by(PolicyTransaction.seq)
            )
        ).all()
    )


async def transactions_of(
    session: AsyncSession, policy_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[PolicyTransaction]]:
    """The histories of several policies in one query."""
    found: dict[uuid.UUID, list[PolicyTransaction]] = {}
    rows = await session.scalars(
        select(PolicyTransaction)
        .where(PolicyTransaction.policy_id.in_(policy_ids))
        .order_by(PolicyTransaction.policy_id, PolicyTransaction.seq)
    )
    for txn in rows:
        found.setdefault(txn.policy_id, []).append(txn)
    return found


async def get_policy(
    session: AsyncSession, policy_id: uuid.UUID, *, actor: Actor, for_update: bool = False
) -> Result[Policy, DomainError]:
    """The policy if ``actor`` may see its customer; 404 otherwise."""
    if not actor.has(Permission.POLICIES_READ):
        return Err(NOT_FOUND)
    # One round trip: the policy only if its customer is visible to the actor.
    query = select(Policy).where(
        Policy.id == policy_id, Policy.customer_id.in_(customers.visible_ids(actor))
    )
    if for_update:
        query = query.with_for_update(of=Policy)
    policy = await session.scalar(query)
    return Ok(policy) if policy is not None else Err(NOT_FOUND)


@cache
def _as_of_statement(visibility: customers.Visibility) -> Select[Policy, PolicyTransaction]:
    """The policy with its latest transaction effective on ``:on``, if ``:viewer`` may see it.

    Built once per kind of visibility: reading a policy is the hottest query there is.
    """
    latest = (
        select(PolicyTransaction)
        .where(
            PolicyTransaction.policy_id == Policy.id,
            PolicyTransaction.effective_on <= bindparam("on"),
        )
        .order_by(PolicyTransaction.effective_on.desc(), PolicyTransaction.seq.desc())
        .limit(1)
        .lateral()
    )
    txn = aliased(PolicyTransaction, latest)
    return (
        select(Policy, txn)
        .outerjoin(latest, true())
        .where(
            Policy.id == bindparam("policy_id"),
            Policy.customer_id.in_(visibility.visible_ids()),
        )
    )


async def read_as_of(
    session: AsyncSession, policy_id: uuid.UUID, on: date, *, actor: Actor
) -> Result[tuple[Policy, AsOf], DomainError]:
    """The policy and what was in force on ``on``, in one query (404 if not visible)."""
    if not actor.has(Permission.POLICIES_READ):
        return Err(NOT_FOUND)
    visibility, viewer = customers.Visibility.of(actor)
    row = (
        await session.execute(
            _as_of_statement(visibility), {"policy_id": policy_id, "on": on, "viewer": viewer}
        )
    ).first()
    if row is None:
        return Err(NOT_FOUND)
    policy, found = row
    return Ok((policy, state_from(found, on)))


async def writable_policy(
    session: AsyncSession, policy_id: uuid.UUID, *, actor: Actor
) -> Result[Policy, DomainError]:
    """The policy, locked for a change, if ``actor`` may change it (404 if it may not see it)."""
    if not actor.has(Permission.POLICIES_WRITE):
        return Err(forbidden("auth.permission_missing", "this requires policies:write"))
    return await get_policy(session, policy_id, actor=actor, for_update=True)


async def list_policies(
    session: AsyncSession, *, actor: Actor, customer_id: uuid.UUID | None, limit: int
) -> list[Policy]:
    if not actor.has(Permission.POLICIES_READ):
        return []
    query = (
        select(Policy)
        .where(Policy.customer_id.in_(customers.visible_ids(actor)))
        .order_by(Policy.created_at.desc())
        .limit(limit)
    )
    if customer_id is not None:
        query = query.where(Policy.customer_id == customer_id)
    return list((await session.scalars(query)).all())


@dataclass(frozen=True, slots=True)
class AsOf:
    on: date
    status: str  # in_force, cancelled, expired, not_yet_effective
    transaction: PolicyTransaction | None

    @property
    def snapshot(self) -> dict[str, Any] | None:
        return self.transaction.snapshot if self.transaction else None


def in_order(txn: PolicyTransaction) -> tuple[date, int]:
    """The order transactions take effect in: by effective date, then as recorded."""
    return txn.effective_on, txn.seq


def latest_transaction(history: Iterable[PolicyTransaction]) -> PolicyTransaction:
    """The transaction in effect last: the one whose snapshot is the policy's current state."""
    return max(history, key=in_order)


def state_as_of(history: list[PolicyTransaction], on: date) -> AsOf:
    """What was in force on ``on``: the latest transaction effective by then decides."""
    effective = [t for t in history if t.effective_on <= on]
    return state_from(latest_transaction(effective) if effective else None, on)


def state_from(latest: PolicyTransaction | None, on: date) -> AsOf:
    """The state on ``on`` given the latest transaction effective by then (None: none yet)."""
    if latest is None:
        return AsOf(on, "not_yet_effective", None)
    snap = latest.snapshot
    if snap["status"] == "cancelled":
        return AsOf(on, "cancelled", latest)
    if on >= date.fromisoformat(snap["term_end"]):
        return AsOf(on, "expired", latest)
    return AsOf(on, "in_force", latest)


async def record_transaction(
    session: AsyncSession,
    policy: Policy,
    *,
    kind: str,
    effective_on: date,
    term_start: date,
    term_end: date,
    version_id: uuid.UUID,
    premium_change: Decimal,
    fees_change: Decimal,
    taxes_change: Decimal,
    snapshot: dict[str, Any],
    earnings: list[Earning],
    actor: Actor,
    reason_code: str | None = None,
    note: str | None = None,
) -> PolicyTransaction:
    # New business opens the history; (policy_id, seq) is unique, so a mistake cannot slip by.
    seq = 1
    if kind != "new_business":
        seq += (
            await session.scalar(
                select(func.coalesce(func.max(PolicyTransaction.seq), 0)).where(
                    PolicyTransaction.policy_id == policy.id
                )
            )
            or 0
        )
    txn = PolicyTransaction(
        id=uuid.uuid4(),
        policy_id=policy.id,
        seq=seq,
        kind=kind,
        effective_on=effective_on,
        accounting_on=max(effective_on, clock.today()),
        term_start=term_start,
        term_end=term_end,
        product_version_id=version_id,
        premium_change=premium_change,
        fees_change=fees_change,
        taxes_change=taxes_change,
        snapshot=snapshot,
        earnings=_earnings_json(earnings),
        reason_code=reason_code,
        note=note,
        created_at=clock.now(),
        created_by=actor.id,
    )
    session.add(txn)
    await session.flush()
    summary = {
        "seq": seq,
        "effective_on": effective_on.isoformat(),
        "premium_change": str(premium_change),
        "reason_code": reason_code,
    }
    await audit.record(session, actor, f"policy.{kind}", "policy", str(policy.id), summary)
    emit(session, f"policy.{kind}", "policy", str(policy.id), {"number": policy.number, **summary})
    definition = await definition_for(session, version_id)
    await billing.on_transaction(session, policy, txn, definition=definition)
    await declarations.render_declarations(session, policy, txn, definition)
    return txn


async def definition_for(session: AsyncSession, version_id: uuid.UUID) -> ProductVersionDefinition:
    version = await session.get(ProductVersion, version_id)
    assert version is not None
    return (await products.compiled_products.get(session, version)).definition


async def definition_of(session: AsyncSession, policy: Policy) -> ProductVersionDefinition:
    """The product version definition of the policy's latest transaction."""
    history = await transactions(session, policy.id)
    return await definition_for(session, history[-1].product_version_id)


def snapshot_for(
    *,
    status: str,
    term_start: date,
    term_end: date,
    option: str,
    coverages: dict[str, Any],
    result: RatingResult,
    risk: dict[str, Any],
    rate_version: str,
    version_id: uuid.UUID,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "status": status,
        "term_start": term_start.isoformat(),
        "term_end": term_end.isoformat(),
        "option": option,
        "coverages": coverages,
        "coverage_premiums": {k: str(v) for k, v in result.coverage_premiums.items()},
        "term_premium": str(result.premium),
        "fees": str(sum((f.amount for f in result.fees), ZERO)),
        "taxes": str(sum((t.amount for t in result.taxes), ZERO)),
        "risk": risk,
        "rate_version": rate_version,
        "product_version_id": str(version_id),
        **(extra or {}),
    }


async def rate_on(
    session: AsyncSession,
    version_id: uuid.UUID,
    risk: dict[str, Any],
    option: dict[str, Any],
    surcharge: Decimal | None = None,
) -> Result[tuple[ProductVersion, RatingResult], DomainError]:
    version = await session.get(ProductVersion, version_id)
    assert version is not None
    compiled = await products.compiled_products.get(session, version)
    match quotes.rate_quote(compiled.definition, compiled, risk, [option], surcharge):
        case Err() as err:
            return err
        case Ok(rated):
            return Ok((version, rated.results[0][1]))
    raise AssertionError("unreachable")  # pragma: no cover


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
        return Err(forbidden("auth.permission_missing", "this requires policies:write"))
    match await quotes.get_quote(session, quote_id, actor=actor, for_update=True):
        case Err() as err:
            return err
        case Ok(quote):
            pass
    if quote.status == "bound":
        existing = await session.scalar(select(Policy).where(Policy.quote_id == quote.id))
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
    match await rate_on(session, quote.product_version_id, quote.risk, package, quote.surcharge):
        case Err() as err:
            return err
        case Ok((version, result)):
            pass
    compiled = await products.compiled_products.get(session, version)
    defn = compiled.definition
    if payment_plan not in {p.code for p in billing.plans_for(defn)}:
        return Err(
            invalid(
                "policy.unknown_payment_plan",
                "the product does not offer this plan",
                FieldIssue("#/payment_plan", "unknown plan"),
            )
        )
    start = quote.effective_on
    end = add_months(start, defn.term_months)
    serial = int(await session.scalar(select(func.nextval("policy_number_seq"))) or 0)
    policy = Policy(
        id=uuid.uuid4(),
        serial=serial,
        number=f"{PREFIX.get(quote.product_code, 'PL')}-{quote.state}-{serial:07d}",
        quote_id=quote.id,
        customer_id=quote.customer_id,
        product_code=quote.product_code,
        state=quote.state,
        inception_on=start,
        payment_plan=payment_plan,
        created_at=clock.now(),
        created_by=actor.id,
    )
    session.add(policy)  # flushed with its first transaction (the policy row first: its FK)
    fees = sum((f.amount for f in result.fees), ZERO)
    taxes = sum((t.amount for t in result.taxes), ZERO)
    new_business = await record_transaction(
        session,
        policy,
        kind="new_business",
        effective_on=start,
        term_start=start,
        term_end=end,
        version_id=version.id,
        premium_change=result.premium,
        fees_change=fees,
        taxes_change=taxes,
        snapshot=snapshot_for(
            status="in_force",
            term_start=start,
            term_end=end,
            option=chosen,
            coverages=package.get("coverages", {}),
            result=result,
            risk=quote.risk,
            rate_version=version.version,
            version_id=version.id,
            extra={"surcharge": str(quote.surcharge) if quote.surcharge else None},
        ),
        earnings=[Earning(result.premium, start, end)],
        actor=actor,
    )
    await quotes.mark_bound(session, quote, policy_id=policy.id, option=chosen, actor=actor)
    return Ok(Bound(policy, created=True, history=[new_business]))


async def _current(
    session: AsyncSession, policy: Policy
) -> tuple[list[PolicyTransaction], PolicyTransaction]:
    history = await transactions(session, policy.id)
    return history, latest_transaction(history)


async def _changeable(
    session: AsyncSession, policy_id: uuid.UUID, effective_on: date, actor: Actor
) -> Result[tuple[Policy, list[PolicyTransaction], PolicyTransaction], DomainError]:
    """The policy, its history and latest transaction, if a change effective then is allowed:
    the actor may change it, the date is not out of sequence, and cover is in force then."""
    match await writable_policy(session, policy_id, actor=actor):
        case Err() as err:
            return err
        case Ok(policy):
            pass
    history, latest = await _current(session, policy)
    snap = latest.snapshot
    if (problem := _sequence_problem(latest, effective_on)) is not None:
        return Err(problem)
    if snap["status"] != "in_force" or not _in_term(snap, effective_on):
        return Err(conflict("policy.not_in_force", "the policy is not in force on that date"))
    return Ok((policy, history, latest))


def _sequence_problem(latest: PolicyTransaction, effective_on: date) -> DomainError | None:
    if effective_on < latest.effective_on:
        return conflict(
            "policy.out_of_sequence",
            f"the policy has a transaction effective {latest.effective_on.isoformat()}; "
            "changes effective before it are refused (see docs/policies.md)",
        )
    return None


def _in_term(snapshot: dict[str, Any], on: date) -> bool:
    return (
        date.fromisoformat(snapshot["term_start"]) <= on < date.fromisoformat(snapshot["term_end"])
    )


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
    match await _changeable(session, policy_id, effective_on, actor):
        case Err() as err:
            return err
        case Ok((policy, _, latest)):
            snap = latest.snapshot
    new_risk = risk if risk is not None else snap["risk"]
    new_coverages = coverages if coverages is not None else snap["coverages"]
    option = {"name": snap["option"], "coverages": new_coverages}
    surcharge = Decimal(snap["surcharge"]) if snap.get("surcharge") else None
    match await rate_on(
        session, uuid.UUID(snap["product_version_id"]), new_risk, option, surcharge
    ):
        case Err(error):
            return Err(_rebase(error))
        case Ok((version, result)):
            pass
    start, end = date.fromisoformat(snap["term_start"]), date.fromisoformat(snap["term_end"])
    full_change = result.premium - Decimal(snap["term_premium"])
    tax_change = sum((t.amount for t in result.taxes), ZERO) - Decimal(snap["taxes"])
    premium_change = prorate(full_change, start, end, effective_on)
    taxes_change = prorate(tax_change, start, end, effective_on)
    txn = await record_transaction(
        session,
        policy,
        kind="endorsement",
        effective_on=effective_on,
        term_start=start,
        term_end=end,
        version_id=version.id,
        premium_change=premium_change,
        fees_change=ZERO,
        taxes_change=taxes_change,
        snapshot=snapshot_for(
            status="in_force",
            term_start=start,
            term_end=end,
            option=snap["option"],
            coverages=new_coverages,
            result=result,
            risk=new_risk,
            rate_version=version.version,
            version_id=version.id,
            extra={"surcharge": snap.get("surcharge")},
        ),
        earnings=[Earning(premium_change, effective_on, end)],
        actor=actor,
    )
    return Ok(txn)


def _rebase(error: DomainError) -> DomainError:
    """Rating errors point into a quote body; an endorsement's fields sit at the top level."""
    issues = tuple(
        FieldIssue(i.pointer.replace("#/options/0/coverages", "#/coverages"), i.detail)
        for i in error.errors
    )
    return DomainError(error.kind, error.code, error.detail, errors=issues, extra=error.extra)


CANCELLATION_REASONS = ("insured_request", "non_payment", "underwriting")


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
    match await _changeable(session, policy_id, effective_on, actor):
        case Err() as err:
            return err
        case Ok((policy, history, latest)):
            snap = latest.snapshot
    start, end = date.fromisoformat(snap["term_start"]), date.fromisoformat(snap["term_end"])
    version = await session.get(ProductVersion, uuid.UUID(snap["product_version_id"]))
    assert version is not None
    defn = (await products.compiled_products.get(session, version)).definition
    term = [t for t in history if t.term_start == start]
    written = sum((t.premium_change for t in term), ZERO)
    taxes_written = sum((t.taxes_change for t in term), ZERO)
    term_earnings = [e for t in term for e in earnings_of(t)]
    unearned = written - earned_through(term_earnings, effective_on - timedelta(days=1))
    if effective_on == start:
        method = "flat"
    elif reason_code == "insured_request":
        method = defn.cancellation.method
    else:
        method = "pro_rata"
    keep = earned_at_cancellation(
        method,
        written,
        start,
        end,
        effective_on,
        short_rate=tuple(
            ShortRate(r.up_to_percent, r.earned_percent) for r in defn.cancellation.short_rate_table
        ),
        # A minimum earned premium is the insured's cost of leaving early, never the carrier's.
        minimum_earned=defn.cancellation.minimum_earned_premium
        if reason_code == "insured_request" and method != "flat"
        else None,
    )
    returned = written - keep
    penalty = unearned - returned
    taxes_returned = cents(taxes_written * returned / written) if written else ZERO
    txn = await record_transaction(
        session,
        policy,
        kind="cancellation",
        effective_on=effective_on,
        term_start=start,
        term_end=end,
        version_id=version.id,
        premium_change=-returned,
        fees_change=ZERO,
        taxes_change=-taxes_returned,
        snapshot={
            **snap,
            "status": "cancelled",
            "cancellation": {
                "effective_on": effective_on.isoformat(),
                "reason_code": reason_code,
                "method": method,
                "return_premium": str(returned),
            },
        },
        # Stop the remaining earning; a short-rate penalty or minimum is earned at once.
        earnings=[
            Earning(-unearned, effective_on, end),
            Earning(penalty, effective_on, effective_on),
        ],
        actor=actor,
        reason_code=reason_code,
        note=note,
    )
    return Ok(txn)


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
    history, latest = await _current(session, policy)
    if latest.kind != "cancellation":
        return Err(conflict("policy.not_cancelled", "only a cancelled policy can be reinstated"))
    cancelled_on = latest.effective_on
    on = effective_on or cancelled_on
    start, end = latest.term_start, latest.term_end
    if not cancelled_on <= on < end:
        return Err(
            invalid(
                "policy.invalid_reinstatement_date",
                "a reinstatement is effective between the cancellation and the term's end",
                FieldIssue("#/effective_on", "outside the cancelled period"),
            )
        )
    previous = latest_transaction(t for t in history if t.seq < latest.seq)
    restored = {k: v for k, v in previous.snapshot.items() if k != "cancellation"}
    if on == cancelled_on:
        earnings = [Earning(-e.amount, e.start, e.end) for e in earnings_of(latest)]
        premium_change, taxes_change = -latest.premium_change, -latest.taxes_change
    else:
        premium_change = prorate(Decimal(restored["term_premium"]), start, end, on)
        taxes_change = prorate(Decimal(restored["taxes"]), start, end, on)
        earnings = [Earning(premium_change, on, end)]
    txn = await record_transaction(
        session,
        policy,
        kind="reinstatement",
        effective_on=on,
        term_start=start,
        term_end=end,
        version_id=latest.product_version_id,
        premium_change=premium_change,
        fees_change=ZERO,
        taxes_change=taxes_change,
        snapshot={
            **restored,
            "status": "in_force",
            "lapse": None
            if on == cancelled_on
            else {"from": cancelled_on.isoformat(), "to": on.isoformat()},
        },
        earnings=earnings,
        actor=actor,
        note=note,
    )
    return Ok(txn)
