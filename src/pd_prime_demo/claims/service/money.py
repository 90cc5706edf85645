"""A claim's money, what the use cases share: posting a reserve change, a payment or a
recovery (the claim transaction, the reserve line's running totals, the balanced journal entry,
the audit entry and the outbox event (for a payment, an indemnity one only), all in the
caller's database transaction), whose authority covers what, and the claim's totals.

Every caller holds the claim's row lock (``get_claim(..., for_update=True)``) before it reads
the totals it checks a movement against.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import service as billing
from pd_prime_demo.claims import money as rules
from pd_prime_demo.claims.enums import ClaimStatus, CostType, MoneyKind
from pd_prime_demo.claims.models import Claim
from pd_prime_demo.claims.money_models import ClaimTransaction, Exposure, ReserveLine
from pd_prime_demo.claims.repository import money as repo
from pd_prime_demo.claims.service.common import get_claim
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, conflict, not_found

ZERO = Decimal(0)
EXPOSURE_NOT_FOUND = not_found("exposure", "claim.exposure_not_found")


async def locked_exposure(
    session: AsyncSession,
    claim_id: uuid.UUID,
    exposure_id: uuid.UUID,
    *,
    actor: Actor,
    permission: Permission,
) -> Result[tuple[Claim, Exposure], DomainError]:
    """The claim, under its row lock (every money movement and valuation holds it), and one of
    its exposures; 404 for either the actor may not see."""
    match await get_claim(session, claim_id, actor=actor, permission=permission, for_update=True):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    exposure = await repo.exposure(session, claim.id, exposure_id)
    if exposure is None:
        return Err(EXPOSURE_NOT_FOUND)
    return Ok((claim, exposure))


CLAIM_CLOSED = conflict(
    "claim.closed", "the claim is closed: reopen it before changing its reserves or paying"
)
EXPOSURE_CLOSED = conflict("claim.exposure_closed", "the exposure is closed")


def open_for_money(claim: Claim, exposure: Exposure) -> DomainError | None:
    """Reserves and payments need an open claim and exposure (recoveries do not: salvage and
    subrogation often come in after a claim is closed)."""
    if claim.status == ClaimStatus.CLOSED:
        return CLAIM_CLOSED
    if exposure.status != "open":
        return EXPOSURE_CLOSED
    return None


async def line_for(
    session: AsyncSession, claim: Claim, exposure: Exposure, cost_type: CostType, category: str
) -> ReserveLine:
    """The exposure's reserve line for the cost type and category, opened (at zero) if new."""
    line = await repo.reserve_line(session, exposure.id, cost_type, category)
    if line is None:
        line = ReserveLine(
            id=uuid.uuid4(),
            claim_id=claim.id,
            exposure_id=exposure.id,
            cost_type=cost_type.value,
            category=category,
            reserve=ZERO,
            paid=ZERO,
            recovered=ZERO,
            created_at=clock.now(),
        )
        session.add(line)
        await session.flush()
    return line


async def authority_of(
    session: AsyncSession, actor: Actor, cost_type: CostType
) -> rules.Authority | None:
    """The actor's authority for a cost type: their own row, else their role's; none without
    either (a system process or a role with no row has no authority)."""
    role = actor.role.value if actor.role is not None else None
    user_row, role_row = await repo.authority_rows(
        session, role=role, user_id=actor.user_id, cost_type=cost_type
    )
    row = user_row or role_row
    return None if row is None else rules.Authority(row.reserve_limit, row.payment_limit)


async def authority_covers(
    session: AsyncSession, actor: Actor, line: ReserveLine, kind: MoneyKind, amount: Decimal
) -> bool:
    """Whether the actor's authority covers setting the line's reserve to ``amount``
    (``RESERVE``), or paying ``amount`` on it (``PAYMENT``), as the line stands now."""
    authority = await authority_of(session, actor, CostType(line.cost_type))
    if kind is MoneyKind.RESERVE:
        return rules.reserve_within(authority, line.reserve, amount)
    return rules.payment_within(authority, line.reserve, amount)


async def _transaction(
    session: AsyncSession,
    claim: Claim,
    line: ReserveLine,
    *,
    kind: MoneyKind,
    amount: Decimal,
    reserve_change: Decimal,
    reason: str,
    actor: Actor,
    payee: str | None = None,
    approval_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
) -> ClaimTransaction:
    line.reserve += reserve_change
    if kind is MoneyKind.PAYMENT:
        line.paid += amount
    elif kind in (MoneyKind.SALVAGE, MoneyKind.SUBROGATION):
        line.recovered += amount
    row = ClaimTransaction(
        claim_id=claim.id,
        exposure_id=line.exposure_id,
        reserve_line_id=line.id,
        kind=kind.value,
        cost_type=line.cost_type,
        amount=amount,
        reserve_change=reserve_change,
        reserve_after=line.reserve,
        reason=reason,
        payee=payee,
        approval_id=approval_id,
        idempotency_key=idempotency_key,
        actor_id=actor.id,
        recorded_at=clock.now(),
        accounting_on=clock.today(),
    )
    session.add(row)
    await session.flush()
    return row


async def _post(
    session: AsyncSession, claim: Claim, row: ClaimTransaction, memo: str, lines: list[billing.Line]
) -> None:
    await billing.post_entry(
        session,
        policy_id=claim.policy_id,
        source="claim",
        source_id=str(row.id),
        memo=f"{claim.number} {memo}",
        lines=lines,
        accounting_on=row.accounting_on,
    )


async def post_reserve_change(
    session: AsyncSession,
    claim: Claim,
    line: ReserveLine,
    change: Decimal,
    *,
    reason: str,
    actor: Actor,
    approval_id: uuid.UUID | None = None,
) -> ClaimTransaction:
    """The reserve moved by ``change`` (negative: taken down)."""
    cost_type = CostType(line.cost_type)
    row = await _transaction(
        session,
        claim,
        line,
        kind=MoneyKind.RESERVE,
        amount=change,
        reserve_change=change,
        reason=reason,
        actor=actor,
        approval_id=approval_id,
    )
    await _post(
        session, claim, row, f"{cost_type} reserve", rules.reserve_change_lines(cost_type, change)
    )
    changes = {
        "exposure_id": str(line.exposure_id),
        "reserve_line_id": str(line.id),
        "transaction_id": row.id,
        "cost_type": line.cost_type,
        "category": line.category,
        "change": str(change),
        "reserve_after": str(row.reserve_after),
    }
    await audit.record(session, actor, "claim.reserve_changed", "claim", str(claim.id), changes)
    emit(session, "claim.reserve_changed", "claim", str(claim.id), _event(claim, changes))
    return row


async def post_payment(
    session: AsyncSession,
    claim: Claim,
    line: ReserveLine,
    amount: Decimal,
    *,
    payee: str,
    reason: str,
    actor: Actor,
    approval_id: uuid.UUID | None = None,
    idempotency_key: str | None = None,
) -> list[ClaimTransaction]:
    """The payment, after raising the reserve to cover it where it does not (the decided
    policy, ``claims.money``): the reserve is taken down by the amount paid."""
    plan = rules.plan_payment(line.reserve, amount)
    posted = []
    if plan.raise_by > 0:
        raised = await post_reserve_change(
            session,
            claim,
            line,
            plan.raise_by,
            reason=rules.RAISED_TO_COVER_PAYMENT,
            actor=actor,
            approval_id=approval_id,
        )
        posted.append(raised)
    cost_type = CostType(line.cost_type)
    row = await _transaction(
        session,
        claim,
        line,
        kind=MoneyKind.PAYMENT,
        amount=amount,
        reserve_change=-plan.reserve_used,
        reason=reason,
        actor=actor,
        payee=payee,
        approval_id=approval_id,
        idempotency_key=idempotency_key,
    )
    await _post(session, claim, row, f"{cost_type} payment", rules.payment_lines(cost_type, amount))
    changes = {
        "exposure_id": str(line.exposure_id),
        "reserve_line_id": str(line.id),
        "transaction_id": row.id,
        "cost_type": line.cost_type,
        "amount": str(amount),
    }
    await audit.record(session, actor, "claim.payment_issued", "claim", str(claim.id), changes)
    if cost_type is CostType.INDEMNITY:
        # The policyholder's event: what was paid on their loss. Expense (adjusting, legal,
        # appraisal) is the carrier's own cost, hidden from the policyholder's view of the
        # claim: no customer event announces it (the audit entry above records it).
        payload = _event(claim, changes)
        del payload["reserve_line_id"]
        emit(
            session,
            "claim.payment_issued",
            "claim",
            str(claim.id),
            payload,
            customer_id=claim.customer_id,
        )
    return [*posted, row]


async def post_recovery(
    session: AsyncSession,
    claim: Claim,
    line: ReserveLine,
    kind: MoneyKind,
    amount: Decimal,
    *,
    reason: str,
    payee: str | None,
    actor: Actor,
) -> ClaimTransaction:
    row = await _transaction(
        session,
        claim,
        line,
        kind=kind,
        amount=amount,
        reserve_change=ZERO,
        reason=reason,
        actor=actor,
        payee=payee,
    )
    await _post(session, claim, row, f"{kind} recovery", rules.recovery_lines(amount))
    changes = {
        "exposure_id": str(line.exposure_id),
        "reserve_line_id": str(line.id),
        "transaction_id": row.id,
        "kind": kind.value,
        "amount": str(amount),
    }
    await audit.record(session, actor, "claim.recovery_recorded", "claim", str(claim.id), changes)
    emit(session, "claim.recovery_recorded", "claim", str(claim.id), _event(claim, changes))
    return row


def _event(claim: Claim, changes: dict[str, object]) -> dict[str, object]:
    return {"claim_id": str(claim.id), "number": claim.number, **changes}


@dataclass(frozen=True, slots=True)
class CostTotals:
    reserve: Decimal  # outstanding case reserve
    paid: Decimal
    recovered: Decimal

    @property
    def incurred(self) -> Decimal:
        """Paid plus outstanding, less what came back."""
        return self.paid + self.reserve - self.recovered


@dataclass(frozen=True, slots=True)
class ClaimTotals:
    indemnity: CostTotals
    expense: CostTotals

    @property
    def reserve(self) -> Decimal:
        return self.indemnity.reserve + self.expense.reserve

    @property
    def paid(self) -> Decimal:
        return self.indemnity.paid + self.expense.paid

    @property
    def recovered(self) -> Decimal:
        return self.indemnity.recovered + self.expense.recovered

    @property
    def incurred(self) -> Decimal:
        return self.indemnity.incurred + self.expense.incurred


async def claim_totals(
    session: AsyncSession, claim_id: uuid.UUID, *, at: datetime | None = None
) -> ClaimTotals:
    """The claim's outstanding reserve, paid and recovered by cost type, summed from its
    transactions as recorded by ``at`` (now when None): the claim "as of" a moment."""
    sums = await repo.transaction_sums(session, claim_id, at=at)
    recoveries = (MoneyKind.SALVAGE.value, MoneyKind.SUBROGATION.value)

    def of(cost_type: CostType) -> CostTotals:
        mine = [s for s in sums if s[1] == cost_type.value]
        return CostTotals(
            reserve=sum((s[3] for s in mine), ZERO),
            paid=sum((s[2] for s in mine if s[0] == MoneyKind.PAYMENT.value), ZERO),
            recovered=sum((s[2] for s in mine if s[0] in recoveries), ZERO),
        )

    return ClaimTotals(indemnity=of(CostType.INDEMNITY), expense=of(CostType.EXPENSE))
