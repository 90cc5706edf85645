"""Reserves, payments and recoveries on an exposure's reserve lines.

A reserve set above the actor's authority, or a payment above it, waits as a pending approval
(202) instead of posting. A payment with no reserve, or above the reserve, first raises the
reserve to cover it (``claims.money``). Indemnity never exceeds the exposure's limit net of
the deductible, nor, with the claim's other exposures on the coverage, its per-occurrence
limit: both checked under the claim's row lock, so concurrent payments cannot pass together.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims import money as rules
from pd_prime_demo.claims.enums import ApprovalStatus, CostType, MoneyKind
from pd_prime_demo.claims.models import Claim
from pd_prime_demo.claims.money_models import Approval, ClaimTransaction, Exposure, ReserveLine
from pd_prime_demo.claims.repository import money as repo
from pd_prime_demo.claims.service.common import get_claim
from pd_prime_demo.claims.service.money import (
    authority_covers,
    line_for,
    locked_exposure,
    open_for_money,
    post_payment,
    post_recovery,
    post_reserve_change,
)
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.after_commit import after_commit
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    ErrorKind,
    FieldIssue,
    Ok,
    Result,
    invalid,
    not_found,
)
from pd_prime_demo.core.telemetry import CLAIM_PAID_AMOUNT, CLAIM_PAYMENTS
from pd_prime_demo.core.tracing import annotate, business_span

ZERO = Decimal(0)
# The claims ledger keeps no currency: a product definition admits only USD
# (rating.definition), so every claim is paid in it.
CURRENCY = "USD"
TRANSACTION_NOT_FOUND = not_found("claim transaction", "claim.transaction_not_found")


@dataclass(frozen=True, slots=True)
class Movement:
    """A request's outcome: ``transactions`` posted, or an ``approval`` waiting."""

    line: ReserveLine
    transactions: list[ClaimTransaction] = field(default_factory=list)
    approval: Approval | None = None


def _unknown_category(cost_type: CostType, category: str) -> DomainError:
    known = ", ".join(rules.CATEGORIES[cost_type])
    return invalid(
        "claim.category_unknown",
        f"{category!r} is not a {cost_type} category ({known})",
        FieldIssue("#/category", f"one of {known}"),
    )


async def _exposure_for(
    session: AsyncSession,
    claim_id: uuid.UUID,
    exposure_id: uuid.UUID,
    cost_type: CostType,
    category: str,
    *,
    open_required: bool,
    actor: Actor,
) -> Result[tuple[Claim, Exposure], DomainError]:
    """The claim, locked, and its exposure, for a movement on one of its lines: both open
    where ``open_required`` (reserves and payments), and a category the cost type has."""
    match await locked_exposure(
        session, claim_id, exposure_id, actor=actor, permission=Permission.CLAIMS_PAY
    ):
        case Err() as err:
            return err
        case Ok((claim, exposure)):
            pass
    if open_required and (closed := open_for_money(claim, exposure)) is not None:
        return Err(closed)
    if not rules.category_known(cost_type, category):
        return Err(_unknown_category(cost_type, category))
    return Ok((claim, exposure))


async def _open_line(
    session: AsyncSession,
    claim_id: uuid.UUID,
    exposure_id: uuid.UUID,
    cost_type: CostType,
    category: str,
    *,
    actor: Actor,
) -> Result[tuple[Claim, Exposure, ReserveLine], DomainError]:
    """What a reserve or a payment starts from: the claim (locked) and exposure, both open,
    and the reserve line (opened at zero if new; an ``Err`` after it rolls it back)."""
    found = await _exposure_for(
        session, claim_id, exposure_id, cost_type, category, open_required=True, actor=actor
    )
    if isinstance(found, Err):
        return found
    claim, exposure = found.value
    return Ok((claim, exposure, await line_for(session, claim, exposure, cost_type, category)))


def _limit_error(code: str, detail: str, available: Decimal) -> DomainError:
    return DomainError(
        ErrorKind.CONFLICT, code, detail, extra={"available": str(max(available, ZERO))}
    )


async def check_indemnity(
    session: AsyncSession, claim: Claim, exposure: Exposure, amount: Decimal
) -> DomainError | None:
    """Whether ``amount`` more indemnity fits the exposure's limit net of its deductible and
    the coverage's per-occurrence limit (the caller holds the claim's lock)."""
    room = rules.indemnity_room(
        limit_amount=exposure.limit_amount,
        valuation=exposure.valuation,
        deductible=exposure.deductible_amount,
        paid_on_exposure=await repo.indemnity_paid(session, claim.id, exposure_id=exposure.id),
        occurrence_limit=exposure.occurrence_limit,
        paid_on_coverage=await repo.indemnity_paid(
            session, claim.id, coverage_code=exposure.coverage_code
        ),
    )
    if room.exposure_room is None:
        return DomainError(
            ErrorKind.CONFLICT,
            "claim.valuation_required",
            "the exposure has no policy limit: set its valuation before paying indemnity",
        )
    if amount > room.exposure_room:
        return _limit_error(
            "claim.limit_exceeded",
            f"the payment would exceed the exposure's limit net of the deductible "
            f"({max(room.exposure_room, ZERO)} left)",
            room.exposure_room,
        )
    if room.occurrence_room is not None and amount > room.occurrence_room:
        return _limit_error(
            "claim.occurrence_limit_exceeded",
            f"the payment would exceed the coverage's per-occurrence limit "
            f"({max(room.occurrence_room, ZERO)} left)",
            room.occurrence_room,
        )
    return None


async def _wait_for_approval(
    session: AsyncSession,
    claim: Claim,
    line: ReserveLine,
    kind: MoneyKind,
    amount: Decimal,
    *,
    reason: str,
    payee: str | None,
    actor: Actor,
) -> Movement:
    """Above the actor's authority: nothing posted, an approval asked (with the line's reserve
    as it stands, which approving a reserve requires unchanged)."""
    approval = Approval(
        id=uuid.uuid4(),
        claim_id=claim.id,
        exposure_id=line.exposure_id,
        reserve_line_id=line.id,
        kind=kind.value,
        amount=amount,
        reason=reason,
        payee=payee,
        status=ApprovalStatus.PENDING.value,
        reserve_before=rules.cents(line.reserve),
        requested_by=actor.id,
        requested_by_user_id=actor.user_id,
        requested_at=clock.now(),
    )
    session.add(approval)
    await session.flush()
    changes = {
        "approval_id": str(approval.id),
        "exposure_id": str(line.exposure_id),
        "kind": kind.value,
        "amount": str(amount),
    }
    await audit.record(session, actor, "claim.approval_requested", "claim", str(claim.id), changes)
    emit(
        session,
        "claim.approval_requested",
        "claim",
        str(claim.id),
        {"claim_id": str(claim.id), "number": claim.number, **changes},
    )
    return Movement(line, approval=approval)


async def set_reserve(
    session: AsyncSession,
    claim_id: uuid.UUID,
    exposure_id: uuid.UUID,
    *,
    cost_type: CostType,
    category: str,
    amount: Decimal,
    reason: str,
    actor: Actor,
) -> Result[Movement, DomainError]:
    """Set a reserve line's outstanding reserve to ``amount``; above the actor's authority it
    waits for approval."""
    amount = rules.cents(amount)
    match await _open_line(session, claim_id, exposure_id, cost_type, category, actor=actor):
        case Err() as err:
            return err
        case Ok((claim, _, line)):
            pass
    if amount == line.reserve:
        return Err(invalid("claim.reserve_unchanged", f"the reserve is already {amount}"))
    if not await authority_covers(session, actor, line, MoneyKind.RESERVE, amount):
        waiting = await _wait_for_approval(
            session, claim, line, MoneyKind.RESERVE, amount, reason=reason, payee=None, actor=actor
        )
        return Ok(waiting)
    row = await post_reserve_change(
        session, claim, line, amount - line.reserve, reason=reason, actor=actor
    )
    return Ok(Movement(line, [row]))


def key_digest(actor: Actor, key: str) -> str:
    """What a payment keeps of its Idempotency-Key: the caller's and the key's digest (keys
    are the caller's own; two callers may pick the same one)."""
    return hashlib.sha256(f"{actor.id}\n{key}".encode()).hexdigest()


async def make_payment(
    session: AsyncSession,
    claim_id: uuid.UUID,
    exposure_id: uuid.UUID,
    *,
    cost_type: CostType,
    category: str,
    amount: Decimal,
    payee: str,
    reason: str,
    idempotency_key: str | None,
    actor: Actor,
) -> Result[Movement, DomainError]:
    """Pay on an exposure's reserve line (raising the reserve first where it does not cover
    the amount); indemnity within the limits; above the actor's authority, an approval."""
    amount = rules.cents(amount)
    # The payee (a person's name) and the reason (free text) stay out of the span.
    with business_span(
        "claim.payment",
        claim_id=str(claim_id),
        exposure_id=str(exposure_id),
        cost_type=cost_type.value,
        category=category,
        amount=str(amount),
        currency=CURRENCY,
    ) as span:
        match await _open_line(session, claim_id, exposure_id, cost_type, category, actor=actor):
            case Err(error) as err:
                annotate(span, outcome=error.code)
                return err
            case Ok((claim, exposure, line)):
                pass
        if cost_type is CostType.INDEMNITY and (
            refused := await check_indemnity(session, claim, exposure, amount)
        ):
            annotate(span, outcome=refused.code)
            return Err(refused)
        if not await authority_covers(session, actor, line, MoneyKind.PAYMENT, amount):
            annotate(span, outcome="awaiting_approval")
            waiting = await _wait_for_approval(
                session,
                claim,
                line,
                MoneyKind.PAYMENT,
                amount,
                reason=reason,
                payee=payee,
                actor=actor,
            )
            return Ok(waiting)
        rows = await post_payment(
            session,
            claim,
            line,
            amount,
            payee=payee,
            reason=reason,
            actor=actor,
            idempotency_key=key_digest(actor, idempotency_key) if idempotency_key else None,
        )
        annotate(span, outcome="paid", reserve_raised=len(rows) > 1)
        count_payment_issued(session, amount)
        return Ok(Movement(line, rows))


def count_payment_issued(session: AsyncSession, amount: Decimal) -> None:
    """Count a claim payment once its transaction commits (a waiting approval, or a rollback,
    counts nothing); the float is Prometheus's, the ledger keeps the Decimal."""
    paid = float(amount)
    after_commit(session, CLAIM_PAYMENTS.labels(CURRENCY).inc)
    after_commit(session, lambda: CLAIM_PAID_AMOUNT.labels(CURRENCY).inc(paid))


async def record_recovery(
    session: AsyncSession,
    claim_id: uuid.UUID,
    exposure_id: uuid.UUID,
    *,
    kind: MoneyKind,
    cost_type: CostType,
    category: str,
    amount: Decimal,
    payer: str | None,
    reason: str,
    actor: Actor,
) -> Result[Movement, DomainError]:
    """Salvage or subrogation received on a line that paid: never more than it paid (a closed
    claim takes recoveries too)."""
    amount = rules.cents(amount)
    match await _exposure_for(
        session, claim_id, exposure_id, cost_type, category, open_required=False, actor=actor
    ):
        case Err() as err:
            return err
        case Ok((claim, exposure)):
            pass
    line = await repo.reserve_line(session, exposure.id, cost_type, category)
    paid = line.paid if line is not None else ZERO
    recovered = line.recovered if line is not None else ZERO
    if line is None or amount > paid - recovered:
        return Err(
            _limit_error(
                "claim.recovery_exceeds_paid",
                f"recoveries on a line never exceed what it paid ({paid - recovered} left)",
                paid - recovered,
            )
        )
    row = await post_recovery(
        session, claim, line, kind, amount, reason=reason, payee=payer, actor=actor
    )
    return Ok(Movement(line, [row]))


async def replayed(
    session: AsyncSession, claim_id: uuid.UUID, transaction_id: int, *, actor: Actor
) -> Result[Movement, DomainError]:
    """A payment or recovery made earlier with the same Idempotency-Key, read again: with the
    raise of the reserve that came with a payment, as the first answer listed them."""
    match await get_claim(session, claim_id, actor=actor, permission=Permission.CLAIMS_PAY):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    row = await repo.transaction(session, claim.id, transaction_id)
    line = await repo.reserve_line_by_id(session, row.reserve_line_id) if row else None
    if row is None or line is None:
        return Err(TRANSACTION_NOT_FOUND)
    rows = [row]
    before = await repo.previous_on_line(session, line.id, row.id)
    if (
        row.kind == MoneyKind.PAYMENT
        and before is not None
        and before.kind == MoneyKind.RESERVE
        and before.reason == rules.RAISED_TO_COVER_PAYMENT
        and before.reserve_after == row.reserve_after - row.reserve_change
        and before.actor_id == row.actor_id
    ):
        rows.insert(0, before)
    return Ok(Movement(line, rows))


async def line_of_approval(session: AsyncSession, approval: Approval) -> ReserveLine:
    line = await repo.reserve_line_by_id(session, approval.reserve_line_id)
    assert line is not None  # a foreign key
    return line
