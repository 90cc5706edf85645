"""Queries of claims handling: the workload, the status and assignment histories, notes,
the diary, listings and the money totals as of a moment."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims.enums import (
    ApprovalStatus,
    ClaimStatus,
    CostType,
    DiaryStatus,
    MoneyKind,
)
from pd_prime_demo.claims.models import (
    Claim,
    ClaimAssignment,
    ClaimInvolved,
    ClaimNote,
    ClaimParty,
    ClaimStatusChange,
    DiaryTask,
)
from pd_prime_demo.claims.money_models import Approval, ClaimTransaction, Exposure, ReserveLine

ZERO = Decimal("0.00")
#: A claim's history table: ordered by its moment, then its id.
H = TypeVar("H", ClaimStatusChange, ClaimAssignment)


async def open_claim_counts(
    session: AsyncSession, adjuster_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many claims not closed each of ``adjuster_ids`` holds (absent: none); one grouped
    scan of ``ix_claims_adjuster_id_status``."""
    if not adjuster_ids:
        return {}
    rows = await session.execute(
        select(Claim.adjuster_id, func.count())
        .where(Claim.adjuster_id.in_(adjuster_ids), Claim.status != ClaimStatus.CLOSED.value)
        .group_by(Claim.adjuster_id)
    )
    return {adjuster: count for adjuster, count in rows if adjuster is not None}


async def paid_total(session: AsyncSession, claim_id: uuid.UUID) -> Decimal:
    paid = await session.scalar(
        select(func.coalesce(func.sum(ClaimTransaction.amount), 0)).where(
            ClaimTransaction.claim_id == claim_id,
            ClaimTransaction.kind == MoneyKind.PAYMENT.value,
        )
    )
    return Decimal(paid or 0)


async def pending_approvals(session: AsyncSession, claim_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).where(
            Approval.claim_id == claim_id, Approval.status == ApprovalStatus.PENDING.value
        )
    )
    return int(count or 0)


async def pending_approval_rows(session: AsyncSession, claim_id: uuid.UUID) -> list[Approval]:
    rows = await session.scalars(
        select(Approval)
        .where(Approval.claim_id == claim_id, Approval.status == ApprovalStatus.PENDING.value)
        .order_by(Approval.requested_at, Approval.id)
    )
    return list(rows)


async def _history(
    session: AsyncSession, model: type[H], claim_id: uuid.UUID, until: datetime | None
) -> list[H]:
    query = select(model).where(model.claim_id == claim_id)
    if until is not None:
        query = query.where(model.at <= until)
    return list(await session.scalars(query.order_by(model.at, model.id)))


async def status_history(
    session: AsyncSession, claim_id: uuid.UUID, *, until: datetime | None = None
) -> list[ClaimStatusChange]:
    return await _history(session, ClaimStatusChange, claim_id, until)


async def assignment_history(
    session: AsyncSession, claim_id: uuid.UUID, *, until: datetime | None = None
) -> list[ClaimAssignment]:
    return await _history(session, ClaimAssignment, claim_id, until)


async def parties(session: AsyncSession, claim_id: uuid.UUID) -> list[ClaimParty]:
    rows = await session.scalars(
        select(ClaimParty)
        .where(ClaimParty.claim_id == claim_id)
        .order_by(ClaimParty.created_at, ClaimParty.id)
    )
    return list(rows)


async def involved(session: AsyncSession, claim_id: uuid.UUID) -> list[ClaimInvolved]:
    rows = await session.scalars(
        select(ClaimInvolved)
        .where(ClaimInvolved.claim_id == claim_id)
        .order_by(ClaimInvolved.created_at, ClaimInvolved.id)
    )
    return list(rows)


async def exposures(
    session: AsyncSession, claim_id: uuid.UUID
) -> list[tuple[Exposure, list[ReserveLine]]]:
    found = list(
        await session.scalars(
            select(Exposure).where(Exposure.claim_id == claim_id).order_by(Exposure.seq)
        )
    )
    lines = await session.scalars(
        select(ReserveLine)
        .where(ReserveLine.claim_id == claim_id)
        .order_by(ReserveLine.created_at, ReserveLine.id)
    )
    by_exposure: dict[uuid.UUID, list[ReserveLine]] = {e.id: [] for e in found}
    for line in lines:
        by_exposure.setdefault(line.exposure_id, []).append(line)
    return [(e, by_exposure[e.id]) for e in found]


async def payments(session: AsyncSession, claim_id: uuid.UUID) -> list[ClaimTransaction]:
    rows = await session.scalars(
        select(ClaimTransaction)
        .where(
            ClaimTransaction.claim_id == claim_id,
            ClaimTransaction.kind == MoneyKind.PAYMENT.value,
        )
        .order_by(ClaimTransaction.id)
    )
    return list(rows)


@dataclass(frozen=True, slots=True)
class Totals:
    """A claim's money as of a moment: the outstanding case reserve, paid and recovered."""

    reserve: Decimal = ZERO
    paid: Decimal = ZERO
    recovered: Decimal = ZERO
    transactions: int = 0
    paid_indemnity: Decimal = ZERO  # the part of ``paid`` against the loss (not expenses)


async def totals_as_of(session: AsyncSession, claim_id: uuid.UUID, moment: datetime) -> Totals:
    """Sums of the claim's transactions recorded by ``moment`` (one aggregate query on
    ``ix_claim_transactions_claim_id_id``'s rows)."""
    t = ClaimTransaction
    recoveries = (MoneyKind.SALVAGE.value, MoneyKind.SUBROGATION.value)
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(t.reserve_change), 0),
                func.coalesce(func.sum(t.amount).filter(t.kind == MoneyKind.PAYMENT.value), 0),
                func.coalesce(func.sum(t.amount).filter(t.kind.in_(recoveries)), 0),
                func.count(),
                func.coalesce(
                    func.sum(t.amount).filter(
                        t.kind == MoneyKind.PAYMENT.value,
                        t.cost_type == CostType.INDEMNITY.value,
                    ),
                    0,
                ),
            ).where(t.claim_id == claim_id, t.recorded_at <= moment)
        )
    ).one()
    return Totals(Decimal(row[0]), Decimal(row[1]), Decimal(row[2]), int(row[3]), Decimal(row[4]))


def claims_query(
    *,
    visible_customers: Select[Any] | None,
    status: ClaimStatus | None = None,
    adjuster_id: uuid.UUID | None = None,
    policy_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    product_code: str | None = None,
    open_only: bool = False,
) -> Select[Claim]:
    """The claims listing's query, keyset-paged by the caller on ``(reported_at, id)``."""
    query = select(Claim)
    if visible_customers is not None:
        query = query.where(Claim.customer_id.in_(visible_customers))
    if status is not None:
        query = query.where(Claim.status == status.value)
    if open_only:
        query = query.where(Claim.status != ClaimStatus.CLOSED.value)
    if adjuster_id is not None:
        query = query.where(Claim.adjuster_id == adjuster_id)
    if policy_id is not None:
        query = query.where(Claim.policy_id == policy_id)
    if customer_id is not None:
        query = query.where(Claim.customer_id == customer_id)
    if product_code is not None:
        query = query.where(Claim.product_code == product_code)
    return query


def notes_query(claim_id: uuid.UUID, *, include_internal: bool) -> Select[ClaimNote]:
    query = select(ClaimNote).where(ClaimNote.claim_id == claim_id)
    if not include_internal:
        query = query.where(ClaimNote.internal.is_(False))
    return query


def diary_query(
    *,
    claim_id: uuid.UUID | None = None,
    assignee: uuid.UUID | None = None,
    due_before: date | None = None,
    open_only: bool = False,
) -> Select[DiaryTask]:
    query = select(DiaryTask)
    if claim_id is not None:
        query = query.where(DiaryTask.claim_id == claim_id)
    if assignee is not None:
        query = query.where(DiaryTask.assigned_to == assignee)
    if due_before is not None:
        query = query.where(DiaryTask.due_on < due_before)
    if open_only:
        query = query.where(DiaryTask.status == DiaryStatus.OPEN.value)
    return query


async def diary_task(
    session: AsyncSession, claim_id: uuid.UUID, task_id: uuid.UUID, *, for_update: bool = False
) -> DiaryTask | None:
    query = select(DiaryTask).where(DiaryTask.id == task_id, DiaryTask.claim_id == claim_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


def add(session: AsyncSession, *rows: object) -> None:
    """New rows of claims handling (history, notes, tasks), written at the next flush."""
    session.add_all(rows)
