"""A claim's money through its services and its API: limits net of the deductible and per
occurrence, the reserve raised to cover a payment, authority and approvals, recoveries, the
reserve history, and (hypothesis) the ledger balanced with every line's totals equal to its
transactions after any sequence of movements."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims.enums import CostType, MoneyKind
from pd_prime_demo.claims.models import Claim
from pd_prime_demo.claims.money_models import Approval, ClaimTransaction
from pd_prime_demo.claims.service import approvals, authority, exposures, payments
from pd_prime_demo.claims.service.money import claim_totals
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.result_types import Err, Ok, Result
from pd_prime_demo.core.runtime import Runtime
from tests.claims_money_support import (
    actor_of,
    assert_books,
    claim_row,
    exposure_row,
    widen_ledger_accounts,
)
from tests.claims_support import bound_policy, staff
from tests.factories import create_user

D = Decimal
IND = CostType.INDEMNITY
EXP = CostType.EXPENSE


@dataclass
class World:
    claim: Claim
    adjuster: Actor
    other_adjuster: Actor
    admin: Actor


@pytest.fixture
async def world(client: AsyncClient, runtime: Runtime, session: AsyncSession) -> World:
    await widen_ledger_accounts(session)
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


def ok(result: Result[Any, Any]) -> Any:
    assert isinstance(result, Ok), result
    return result.value


def code(result: Result[Any, Any]) -> str:
    assert isinstance(result, Err), result
    return str(result.error.code)


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


async def test_payments_stop_at_the_limit_net_of_the_deductible(
    session: AsyncSession, world: World
) -> None:
    exposure = await exposure_row(session, world.claim, limit=D(10000), deductible=D(500))
    first = ok(await pay(session, world, exposure.id, "5000.00"))
    # No reserve yet: it was raised to cover the payment, then taken down by it.
    raised, paid = first.transactions
    assert (raised.kind, raised.amount, raised.reason) == (
        "reserve",
        D(5000),
        "raised to cover payment",
    )
    assert (paid.kind, paid.amount, paid.reserve_change, paid.reserve_after) == (
        "payment",
        D(5000),
        D(-5000),
        D(0),
    )
    ok(await pay(session, world, exposure.id, "4500.00"))  # exactly at 10,000 - 500
    over = await pay(session, world, exposure.id, "0.01")
    assert code(over) == "claim.limit_exceeded"
    assert isinstance(over, Err)
    assert over.error.extra["available"] == "0.00"
    # Expense is outside the limit.
    ok(await pay(session, world, exposure.id, "300.00", cost_type=EXP))
    lines = await assert_books(session, world.claim.id)
    assert sum(line.paid for line in lines if line.cost_type == "indemnity") == D(9500)
    totals = await claim_totals(session, world.claim.id)
    assert (totals.indemnity.paid, totals.expense.paid, totals.reserve) == (D(9500), D(300), D(0))


async def test_a_payment_within_the_reserve_takes_it_down(
    session: AsyncSession, world: World
) -> None:
    exposure = await exposure_row(session, world.claim)
    ok(
        await payments.set_reserve(
            session,
            world.claim.id,
            exposure.id,
            cost_type=IND,
            category="vehicle_damage",
            amount=D(4000),
            reason="estimate",
            actor=world.adjuster,
        )
    )
    moved = ok(await pay(session, world, exposure.id, "1500.00"))
    assert [t.kind for t in moved.transactions] == ["payment"]
    assert moved.line.reserve == D(2500)
    await assert_books(session, world.claim.id)


async def test_exposures_on_one_coverage_share_the_per_occurrence_limit(
    session: AsyncSession, world: World
) -> None:
    common = {
        "coverage_code": "bi",
        "limit": D(100000),
        "deductible": D(0),
        "occurrence": D(150000),
    }
    a = await exposure_row(session, world.claim, policy_unit=None, **common)
    b = await exposure_row(session, world.claim, policy_unit=None, **common)
    ok(await pay(session, world, a.id, "100000.00", actor=world.admin, category="bodily_injury"))
    refused = await pay(
        session, world, b.id, "60000.00", actor=world.admin, category="bodily_injury"
    )
    assert code(refused) == "claim.occurrence_limit_exceeded"
    assert isinstance(refused, Err)
    assert refused.error.extra["available"] == "50000.00"
    ok(await pay(session, world, b.id, "50000.00", actor=world.admin, category="bodily_injury"))
    await assert_books(session, world.claim.id)


async def test_a_valuation_basis_exposure_pays_nothing_until_valued(
    session: AsyncSession, world: World
) -> None:
    exposure = await exposure_row(session, world.claim, limit=None, deductible=D(500))
    assert code(await pay(session, world, exposure.id, "100.00")) == "claim.valuation_required"
    ok(
        await exposures.set_valuation(
            session,
            world.claim.id,
            exposure.id,
            valuation=D(8000),
            reason="ACV",
            actor=world.adjuster,
        )
    )
    ok(await pay(session, world, exposure.id, "7500.00"))
    assert code(await pay(session, world, exposure.id, "0.01")) == "claim.limit_exceeded"
    lowered = await exposures.set_valuation(
        session,
        world.claim.id,
        exposure.id,
        valuation=D(7000),
        reason="re-inspected",
        actor=world.adjuster,
    )
    assert code(lowered) == "claim.valuation_below_paid"


async def test_a_payment_over_authority_waits_for_someone_elses_approval(
    session: AsyncSession, world: World
) -> None:
    exposure = await exposure_row(session, world.claim, limit=D(50000), deductible=D(0))
    moved = ok(await pay(session, world, exposure.id, "12000.00"))  # adjuster pays up to 10,000
    assert moved.transactions == []
    assert moved.approval is not None
    approval = moved.approval
    assert (approval.status, approval.kind, approval.amount) == ("pending", "payment", D(12000))
    posted = await session.scalars(
        select(ClaimTransaction).where(ClaimTransaction.claim_id == world.claim.id)
    )
    assert posted.all() == []
    decide = approvals.decide
    assert code(
        await decide(session, approval.id, approve=True, note=None, actor=world.adjuster)
    ) == ("claim.self_approval")
    short = await decide(session, approval.id, approve=True, note=None, actor=world.other_adjuster)
    assert code(short) == "claim.authority_insufficient"
    done = ok(await decide(session, approval.id, approve=True, note="ok", actor=world.admin))
    assert done.approval.status == "approved"
    assert done.approval.decided_by == world.admin.id
    assert [t.kind for t in done.transactions] == ["reserve", "payment"]
    assert all(t.approval_id == approval.id for t in done.transactions)
    again = await decide(session, approval.id, approve=False, note=None, actor=world.admin)
    assert code(again) == "claim.approval_decided"
    lines = await assert_books(session, world.claim.id)
    assert lines[0].paid == D(12000)


async def test_approval_checks_the_limits_again_when_it_posts(
    session: AsyncSession, world: World
) -> None:
    exposure = await exposure_row(session, world.claim, limit=D(20000), deductible=D(0))
    first = ok(await pay(session, world, exposure.id, "15000.00")).approval
    second = ok(await pay(session, world, exposure.id, "15000.00")).approval
    ok(await approvals.decide(session, first.id, approve=True, note=None, actor=world.admin))
    late = await approvals.decide(session, second.id, approve=True, note=None, actor=world.admin)
    assert code(late) == "claim.limit_exceeded"
    rejected = ok(
        await approvals.decide(session, second.id, approve=False, note="no", actor=world.admin)
    )
    assert rejected.approval.status == "rejected"
    assert rejected.transactions == []
    await assert_books(session, world.claim.id)


async def test_reserves_above_authority_wait_and_history_keeps_every_change(
    session: AsyncSession, world: World
) -> None:
    exposure = await exposure_row(session, world.claim, limit=D(100000))

    async def reserve(amount: str, actor: Actor) -> payments.Movement:
        return ok(
            await payments.set_reserve(
                session,
                world.claim.id,
                exposure.id,
                cost_type=IND,
                category="vehicle_damage",
                amount=D(amount),
                reason=f"to {amount}",
                actor=actor,
            )
        )

    assert (await reserve("30000.00", world.adjuster)).approval is not None  # limit 25,000
    assert (await reserve("20000.00", world.adjuster)).approval is None
    assert (await reserve("5000.00", world.adjuster)).approval is None  # down: no authority needed
    unchanged = await payments.set_reserve(
        session,
        world.claim.id,
        exposure.id,
        cost_type=IND,
        category="vehicle_damage",
        amount=D(5000),
        reason="same",
        actor=world.adjuster,
    )
    assert code(unchanged) == "claim.reserve_unchanged"
    unknown = await payments.set_reserve(
        session,
        world.claim.id,
        exposure.id,
        cost_type=EXP,
        category="vehicle_damage",
        amount=D(5),
        reason="x",
        actor=world.adjuster,
    )
    assert code(unknown) == "claim.category_unknown"
    rows, _ = ok(
        await exposures.transaction_history(
            session, world.claim.id, exposure.id, cursor=None, limit=10, actor=world.adjuster
        )
    )
    assert [(t.amount, t.reserve_after, t.reason) for t in rows] == [
        (D(20000), D(20000), "to 20000.00"),
        (D(-15000), D(5000), "to 5000.00"),
    ]
    await exposures.close_reserves(session, world.claim, actor=world.adjuster)
    lines = await assert_books(session, world.claim.id)
    assert [line.reserve for line in lines] == [D(0)]
    rows, _ = ok(
        await exposures.transaction_history(
            session, world.claim.id, exposure.id, cursor=None, limit=10, actor=world.adjuster
        )
    )
    assert (rows[-1].amount, rows[-1].reason) == (D(-5000), "claim closed")
    assert await approvals.pending_approvals(session, world.claim.id) == 1


async def test_a_users_own_authority_row_overrides_their_roles(
    session: AsyncSession, world: World
) -> None:
    exposure = await exposure_row(session, world.claim, limit=D(50000), deductible=D(0))
    assert world.adjuster.user_id is not None
    refused = await authority.set_authority(
        session,
        role=None,
        user_id=world.adjuster.user_id,
        cost_type=IND,
        reserve_limit=D(1000),
        payment_limit=D(1000),
        actor=world.adjuster,
    )
    assert code(refused) == "auth.permission_missing"
    ok(
        await authority.set_authority(
            session,
            role=None,
            user_id=world.adjuster.user_id,
            cost_type=IND,
            reserve_limit=D(1000),
            payment_limit=D(1000),
            actor=world.admin,
        )
    )
    assert ok(await pay(session, world, exposure.id, "2000.00")).approval is not None
    assert (
        ok(await pay(session, world, exposure.id, "2000.00", actor=world.other_adjuster)).approval
        is None
    )


async def test_recoveries_never_exceed_what_the_line_paid(
    session: AsyncSession, world: World
) -> None:
    exposure = await exposure_row(session, world.claim)

    async def recover(amount: str, kind: MoneyKind = MoneyKind.SALVAGE) -> Result[Any, Any]:
        return await payments.record_recovery(
            session,
            world.claim.id,
            exposure.id,
            kind=kind,
            cost_type=IND,
            category="vehicle_damage",
            amount=D(amount),
            payer="Copart",
            reason="sold",
            actor=world.adjuster,
        )

    assert code(await recover("1.00")) == "claim.recovery_exceeds_paid"
    ok(await pay(session, world, exposure.id, "3000.00"))
    ok(await recover("1000.00"))
    ok(await recover("2000.00", MoneyKind.SUBROGATION))
    assert code(await recover("0.01")) == "claim.recovery_exceeds_paid"
    totals = await claim_totals(session, world.claim.id)
    assert (totals.paid, totals.recovered, totals.incurred) == (D(3000), D(3000), D(0))
    await assert_books(session, world.claim.id)


async def test_a_closed_claim_takes_no_reserve_or_payment(
    session: AsyncSession, world: World
) -> None:
    exposure = await exposure_row(session, world.claim)
    world.claim.status = "closed"
    world.claim.closed_outcome = "without_payment"
    await session.flush()
    assert code(await pay(session, world, exposure.id, "10.00")) == "claim.closed"


OPS = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "pay", "salvage", "subrogation"]),
        st.sampled_from([IND, EXP]),
        st.sampled_from(["a", "b"]),  # two categories per cost type
        st.decimals(min_value=0, max_value=6000, places=2),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
async def test_any_sequence_keeps_the_ledger_balanced_and_totals_equal_to_transactions(
    session: AsyncSession, world: World, ops: list[tuple[str, CostType, str, Decimal]]
) -> None:
    claim = await claim_row(
        session, policy_id=world.claim.policy_id, customer_id=world.claim.customer_id
    )
    w = World(claim, world.adjuster, world.other_adjuster, world.admin)
    exposure = await exposure_row(session, claim, limit=D(15000), deductible=D(250))
    names = {
        IND: {"a": "vehicle_damage", "b": "loss_of_use"},
        EXP: {"a": "legal", "b": "appraisal"},
    }
    for op, cost_type, which, amount in ops:
        category = names[cost_type][which]
        if op == "reserve":
            result = await payments.set_reserve(
                session,
                claim.id,
                exposure.id,
                cost_type=cost_type,
                category=category,
                amount=amount,
                reason="r",
                actor=w.admin,
            )
        elif op == "pay":
            if amount == 0:
                continue
            result = await payments.make_payment(
                session,
                claim.id,
                exposure.id,
                cost_type=cost_type,
                category=category,
                amount=amount,
                payee="p",
                reason="p",
                idempotency_key=None,
                actor=w.admin,
            )
        else:
            if amount == 0:
                continue
            result = await payments.record_recovery(
                session,
                claim.id,
                exposure.id,
                kind=MoneyKind(op),
                cost_type=cost_type,
                category=category,
                amount=amount,
                payer=None,
                reason="r",
                actor=w.admin,
            )
        if isinstance(result, Err):
            assert result.error.code in {
                "claim.limit_exceeded",
                "claim.recovery_exceeds_paid",
                "claim.reserve_unchanged",
            }, result
        lines = await assert_books(session, claim.id)
        indemnity_paid = sum((line.paid for line in lines if line.cost_type == "indemnity"), D(0))
        assert indemnity_paid <= D(15000) - D(250)
        totals = await claim_totals(session, claim.id)
        assert totals.reserve == sum((line.reserve for line in lines), D(0))
        assert totals.paid == sum((line.paid for line in lines), D(0))
        assert totals.recovered == sum((line.recovered for line in lines), D(0))
    pending = await session.scalars(select(Approval).where(Approval.claim_id == claim.id))
    assert pending.all() == []  # the administrator's authority covered every movement
