"""Test support for a claim's money: a claim and exposures written straight to the database
(for service-level tests that need no first notice through the API), actors of each role, and
the checks every money test makes (ledger balanced, line totals equal to their transactions).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.claims.models import Claim
from pd_prime_demo.claims.money_models import Exposure, ReserveLine
from pd_prime_demo.claims.repository import money as repo
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.identity.rules import user_actor


def actor_of(user_id: uuid.UUID, role: Role) -> Actor:
    return user_actor(user_id, role.value, None)


async def claim_row(
    session: AsyncSession, *, policy_id: uuid.UUID, customer_id: uuid.UUID, status: str = "open"
) -> Claim:
    """A claim on the policy, as first notice would have left it (no API round trip)."""
    serial = int(await session.scalar(select(func.coalesce(func.max(Claim.serial), 0))) or 0) + 1
    now = clock.now()
    claim = Claim(
        id=uuid.uuid4(),
        serial=serial + 900_000,
        number=f"PAC-T-{serial + 900_000}",
        policy_id=policy_id,
        customer_id=customer_id,
        product_code="personal_auto",
        state="TX",
        loss_at=now,
        loss_on=now.date(),
        loss_time_zone="America/Chicago",
        cause_code="collision",
        location={"city": "Austin", "state": "TX"},
        description="test loss",
        reported_at=now,
        reported_by="tests",
        reported_via="staff",
        coverage_status="verified",
        coverage_findings=[],
        status=status,
        updated_at=now,
    )
    session.add(claim)
    await session.flush()
    return claim


async def exposure_row(
    session: AsyncSession,
    claim: Claim,
    *,
    coverage_code: str = "collision",
    limit: Decimal | None = Decimal("10000.00"),
    deductible: Decimal = Decimal("500.00"),
    occurrence: Decimal | None = None,
    valuation: Decimal | None = None,
    policy_unit: int | None = 0,
) -> Exposure:
    exposure = Exposure(
        id=uuid.uuid4(),
        claim_id=claim.id,
        seq=await repo.next_exposure_seq(session, claim.id),
        claimant_party_id=None,
        coverage_code=coverage_code,
        policy_unit=policy_unit,
        limit_amount=limit,
        occurrence_limit=occurrence,
        deductible_amount=deductible,
        valuation=valuation,
        terms="test terms",
        status="open",
        created_by="tests",
        created_at=datetime.now(UTC),
    )
    session.add(exposure)
    await session.flush()
    return exposure


async def assert_books(session: AsyncSession, claim_id: uuid.UUID) -> list[ReserveLine]:
    """The ledger balances, and every reserve line's running totals equal the sums of its
    transactions; the claim's lines (read fresh)."""
    trial = await billing.trial_balance(session)
    assert trial.balanced, trial
    lines = list(
        (
            await session.scalars(
                select(ReserveLine)
                .where(ReserveLine.claim_id == claim_id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    for line in lines:
        assert await repo.line_sums(session, line.id) == (line.reserve, line.paid, line.recovered)
        assert line.reserve >= 0
    return lines


def problem(response: Any) -> str:
    return str(response.json().get("code"))
