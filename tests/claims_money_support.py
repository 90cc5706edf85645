"""Test support for a claim's money: a claim and exposures written straight to the database
(for service-level tests that need no first notice through the API), actors of each role, a
claim filed through the API with staff logins, and the checks every money test makes (ledger
balanced, line totals equal to their transactions).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.claims.enums import CostType
from pd_prime_demo.claims.models import Claim
from pd_prime_demo.claims.money_models import Exposure, ReserveLine
from pd_prime_demo.claims.repository import money as repo
from pd_prime_demo.claims.service import payments
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.result_types import Err, Ok, Result
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity.rules import user_actor
from tests.claims_support import at, bound_policy, claim_in_force, filing_day, fresh, staff
from tests.factories import Login, create_user

D = Decimal
IND = CostType.INDEMNITY
EXP = CostType.EXPENSE


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


def ok(result: Result[Any, Any]) -> Any:
    assert isinstance(result, Ok), result
    return result.value


def code(result: Result[Any, Any]) -> str:
    assert isinstance(result, Err), result
    return str(result.error.code)


@dataclass
class World:
    """A claim written straight to the database, two adjusters and an administrator."""

    claim: Claim
    adjuster: Actor
    other_adjuster: Actor
    admin: Actor


async def make_world(client: AsyncClient, runtime: Runtime, session: AsyncSession) -> World:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    claim = await claim_row(
        session, policy_id=uuid.UUID(made.policy_id), customer_id=uuid.UUID(made.customer_id)
    )
    ids = [await create_user(runtime, role) for role in (Role.ADJUSTER, Role.ADJUSTER, Role.ADMIN)]
    return World(
        claim,
        actor_of(ids[0], Role.ADJUSTER),
        actor_of(ids[1], Role.ADJUSTER),
        actor_of(ids[2], Role.ADMIN),
    )


async def pay(
    session: AsyncSession,
    w: World,
    exposure_id: uuid.UUID,
    amount: str,
    *,
    actor: Actor | None = None,
    cost_type: CostType = IND,
    category: str = "vehicle_damage",
) -> Result[payments.Movement, Any]:
    return await payments.make_payment(
        session,
        w.claim.id,
        exposure_id,
        cost_type=cost_type,
        category=category if cost_type is IND else "appraisal",
        amount=D(amount),
        payee="Austin Body Works",
        reason="repair invoice",
        idempotency_key=uuid.uuid4().hex,
        actor=actor or w.adjuster,
    )


async def reserve(
    session: AsyncSession, w: World, exposure_id: uuid.UUID, amount: str, *, actor: Actor
) -> Result[payments.Movement, Any]:
    return await payments.set_reserve(
        session,
        w.claim.id,
        exposure_id,
        cost_type=IND,
        category="vehicle_damage",
        amount=D(amount),
        reason=f"to {amount}",
        actor=actor,
    )


@dataclass
class Filed:
    """A claim filed by first notice (its API body and URL), and logins (headers) of the agent
    who filed it, an adjuster and an administrator; ``adjuster_login`` for their API keys."""

    claim: dict[str, Any]
    url: str
    agent: dict[str, str]
    adjuster: dict[str, str]
    admin: dict[str, str]
    adjuster_login: Login


@asynccontextmanager
async def filed_claim(client: AsyncClient, runtime: Runtime) -> AsyncIterator[Filed]:
    """The claim of ``claim_in_force``, with the clock on its filing day while in use."""
    made, agent, claim = await claim_in_force(client, runtime)
    with at(filing_day(made)):
        adjuster = await staff(client, runtime, Role.ADJUSTER)
        admin = await staff(client, runtime, Role.ADMIN)
        yield Filed(
            claim,
            f"/api/v1/claims/{claim['id']}",
            await fresh(client, agent),
            adjuster.headers,
            admin.headers,
            adjuster,
        )


async def bi_exposure(client: AsyncClient, filed: Filed) -> str:
    """A bodily injury exposure opened on the filed claim by the adjuster; its URL."""
    opened = await client.post(
        f"{filed.url}/exposures",
        json={"coverage_code": "bi", "policy_unit": 0},
        headers=filed.adjuster,
    )
    assert opened.status_code == 201, opened.text
    return f"{filed.url}/exposures/{opened.json()['id']}"


def key() -> dict[str, str]:
    return {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}


PAYMENT = {
    "cost_type": "indemnity",
    "category": "vehicle_damage",
    "payee": "Austin Body Works",
    "reason": "repair invoice",
}
