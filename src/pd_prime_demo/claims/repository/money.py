"""The money's queries: exposures, reserve lines, transactions, approvals, authority limits.

Callers hold the claim's row lock (``claims.repository.get(..., for_update=True)``) before
reading totals they check a movement against, so these reads need no locks of their own.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims.enums import ApprovalStatus, CostType, MoneyKind
from pd_prime_demo.claims.models import Claim, ClaimParty
from pd_prime_demo.claims.money_models import (
    Approval,
    AuthorityLimit,
    ClaimTransaction,
    Exposure,
    ReserveLine,
)

ZERO = Decimal(0)


async def exposures_of(session: AsyncSession, claim_id: uuid.UUID) -> list[Exposure]:
    rows = await session.scalars(
        select(Exposure).where(Exposure.claim_id == claim_id).order_by(Exposure.seq)
    )
    return list(rows.all())


async def exposure(
    session: AsyncSession, claim_id: uuid.UUID, exposure_id: uuid.UUID
) -> Exposure | None:
    return await session.scalar(
        select(Exposure).where(Exposure.id == exposure_id, Exposure.claim_id == claim_id)
    )


async def next_exposure_seq(session: AsyncSession, claim_id: uuid.UUID) -> int:
    top = await session.scalar(select(func.max(Exposure.seq)).where(Exposure.claim_id == claim_id))
    return int(top or 0) + 1


async def lines_of(session: AsyncSession, exposure_ids: list[uuid.UUID]) -> list[ReserveLine]:
    if not exposure_ids:
        return []
    rows = await session.scalars(
        select(ReserveLine)
        .where(ReserveLine.exposure_id.in_(exposure_ids))
        .order_by(ReserveLine.created_at, ReserveLine.id)
    )
    return list(rows.all())


async def lines_of_claim(session: AsyncSession, claim_id: uuid.UUID) -> list[ReserveLine]:
    rows = await session.scalars(
        select(ReserveLine)
        .where(ReserveLine.claim_id == claim_id)
        .order_by(ReserveLine.created_at, ReserveLine.id)
    )
    return list(rows.all())


async def reserve_line(
    session: AsyncSession, exposure_id: uuid.UUID, cost_type: CostType, category: str
) -> ReserveLine | None:
    return await session.scalar(
        select(ReserveLine).where(
            ReserveLine.exposure_id == exposure_id,
            ReserveLine.cost_type == cost_type.value,
            ReserveLine.category == category,
        )
    )


async def reserve_line_by_id(session: AsyncSession, line_id: uuid.UUID) -> ReserveLine | None:
    return await session.get(ReserveLine, line_id)


async def indemnity_paid(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    exposure_id: uuid.UUID | None = None,
    coverage_code: str | None = None,
) -> Decimal:
    """Indemnity paid on one exposure, or on all the claim's exposures on one coverage."""
    query = (
        select(func.coalesce(func.sum(ReserveLine.paid), 0))
        .join(Exposure, Exposure.id == ReserveLine.exposure_id)
        .where(
            ReserveLine.claim_id == claim_id,
            ReserveLine.cost_type == CostType.INDEMNITY.value,
        )
    )
    if exposure_id is not None:
        query = query.where(ReserveLine.exposure_id == exposure_id)
    if coverage_code is not None:
        query = query.where(Exposure.coverage_code == coverage_code)
    return Decimal(await session.scalar(query) or 0)


def transactions_query(claim_id: uuid.UUID, exposure_id: uuid.UUID | None) -> Select[Any]:
    query = select(ClaimTransaction).where(ClaimTransaction.claim_id == claim_id)
    if exposure_id is not None:
        query = query.where(ClaimTransaction.exposure_id == exposure_id)
    return query


async def transaction_by_key(
    session: AsyncSession, claim_id: uuid.UUID, key: str
) -> ClaimTransaction | None:
    return await session.scalar(
        select(ClaimTransaction).where(
            ClaimTransaction.claim_id == claim_id, ClaimTransaction.idempotency_key == key
        )
    )


async def transaction(
    session: AsyncSession, claim_id: uuid.UUID, transaction_id: int
) -> ClaimTransaction | None:
    return await session.scalar(
        select(ClaimTransaction).where(
            ClaimTransaction.id == transaction_id, ClaimTransaction.claim_id == claim_id
        )
    )


async def transaction_sums(
    session: AsyncSession, claim_id: uuid.UUID, *, at: datetime | None = None
) -> list[tuple[str, str, Decimal, Decimal]]:
    """(kind, cost_type, sum of amounts, sum of reserve changes) of the claim's transactions,
    as recorded by ``at``."""
    query = (
        select(
            ClaimTransaction.kind,
            ClaimTransaction.cost_type,
            func.sum(ClaimTransaction.amount),
            func.sum(ClaimTransaction.reserve_change),
        )
        .where(ClaimTransaction.claim_id == claim_id)
        .group_by(ClaimTransaction.kind, ClaimTransaction.cost_type)
    )
    if at is not None:
        query = query.where(ClaimTransaction.recorded_at <= at)
    rows = await session.execute(query)
    return [(k, c, Decimal(a), Decimal(r)) for k, c, a, r in rows.all()]


async def line_sums(session: AsyncSession, line_id: uuid.UUID) -> tuple[Decimal, Decimal, Decimal]:
    """(reserve, paid, recovered) summed from one line's transactions."""
    paid = MoneyKind.PAYMENT.value
    recoveries = (MoneyKind.SALVAGE.value, MoneyKind.SUBROGATION.value)
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(ClaimTransaction.reserve_change), 0),
                func.coalesce(
                    func.sum(ClaimTransaction.amount).filter(ClaimTransaction.kind == paid), 0
                ),
                func.coalesce(
                    func.sum(ClaimTransaction.amount).filter(ClaimTransaction.kind.in_(recoveries)),
                    0,
                ),
            ).where(ClaimTransaction.reserve_line_id == line_id)
        )
    ).one()
    return Decimal(row[0]), Decimal(row[1]), Decimal(row[2])


async def approval(
    session: AsyncSession, approval_id: uuid.UUID, *, for_update: bool = False
) -> Approval | None:
    query = select(Approval).where(Approval.id == approval_id)
    if for_update:
        # Read again under the lock, over what the session may hold from before it.
        query = query.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(query)


def approvals_query(
    *,
    claim_id: uuid.UUID | None,
    status: ApprovalStatus | None,
    visible_customers: Select[Any] | None = None,
) -> Select[Any]:
    """Approvals by claim and status, on claims whose customer is among ``visible_customers``
    (None: no restriction)."""
    query = select(Approval)
    if visible_customers is not None:
        query = query.join(Claim, Claim.id == Approval.claim_id).where(
            Claim.customer_id.in_(visible_customers)
        )
    if claim_id is not None:
        query = query.where(Approval.claim_id == claim_id)
    if status is not None:
        query = query.where(Approval.status == status.value)
    return query


async def authority_rows(
    session: AsyncSession, *, role: str | None, user_id: uuid.UUID | None, cost_type: CostType
) -> tuple[AuthorityLimit | None, AuthorityLimit | None]:
    """(the user's row, the role's row) for one cost type."""
    user_row = None
    if user_id is not None:
        user_row = await session.scalar(
            select(AuthorityLimit).where(
                AuthorityLimit.user_id == user_id, AuthorityLimit.cost_type == cost_type.value
            )
        )
    role_row = None
    if role is not None:
        role_row = await session.scalar(
            select(AuthorityLimit).where(
                AuthorityLimit.role == role,
                AuthorityLimit.user_id.is_(None),
                AuthorityLimit.cost_type == cost_type.value,
            )
        )
    return user_row, role_row


async def all_authority(session: AsyncSession) -> list[AuthorityLimit]:
    rows = await session.scalars(
        select(AuthorityLimit).order_by(
            AuthorityLimit.role.nulls_last(),
            AuthorityLimit.user_id.nulls_first(),
            AuthorityLimit.cost_type,
        )
    )
    return list(rows.all())


async def authority_row(
    session: AsyncSession, *, role: str | None, user_id: uuid.UUID | None, cost_type: CostType
) -> AuthorityLimit | None:
    query = select(AuthorityLimit).where(AuthorityLimit.cost_type == cost_type.value)
    query = query.where(
        AuthorityLimit.user_id == user_id if user_id is not None else AuthorityLimit.role == role
    )
    return await session.scalar(query.with_for_update())


async def count_pending(session: AsyncSession, claim_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Approval)
            .where(Approval.claim_id == claim_id, Approval.status == ApprovalStatus.PENDING.value)
        )
        or 0
    )


async def party_on_claim(session: AsyncSession, claim_id: uuid.UUID, party_id: uuid.UUID) -> bool:
    found = await session.scalar(
        select(ClaimParty.id).where(ClaimParty.id == party_id, ClaimParty.claim_id == claim_id)
    )
    return found is not None


async def same_exposure(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    coverage_code: str,
    policy_unit: int | None,
    claimant_party_id: uuid.UUID | None,
) -> Exposure | None:
    query = select(Exposure).where(
        Exposure.claim_id == claim_id, Exposure.coverage_code == coverage_code
    )
    query = query.where(
        Exposure.policy_unit.is_(None)
        if policy_unit is None
        else Exposure.policy_unit == policy_unit
    )
    query = query.where(
        Exposure.claimant_party_id.is_(None)
        if claimant_party_id is None
        else Exposure.claimant_party_id == claimant_party_id
    )
    return await session.scalar(query.limit(1))


async def previous_on_line(
    session: AsyncSession, line_id: uuid.UUID, before_id: int
) -> ClaimTransaction | None:
    """The line's transaction just before ``before_id`` (the claim's lock orders them)."""
    return await session.scalar(
        select(ClaimTransaction)
        .where(ClaimTransaction.reserve_line_id == line_id, ClaimTransaction.id < before_id)
        .order_by(ClaimTransaction.id.desc())
        .limit(1)
    )
