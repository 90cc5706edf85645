"""A claim's money through its services and its API: limits net of the deductible and per
occurrence, the reserve raised to cover a payment, recoveries, the reserve history, events
(only indemnity payments reach the policyholder), and (hypothesis) the ledger balanced with
every line's totals equal to its transactions after any sequence of movements. Authority and
approvals: ``test_claims_approvals.py``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from httpx import AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims.enums import CostType, MoneyKind
from pd_prime_demo.claims.money_models import Approval
from pd_prime_demo.claims.service import approvals, exposures, payments
from pd_prime_demo.claims.service.money import claim_totals
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import Err, Ok, Result
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.events.catalogue import CATALOGUE, schemas
from tests.claims_money_support import (
    EXP,
    IND,
    PAYMENT,
    D,
    Filed,
    World,
    assert_books,
    bi_exposure,
    claim_row,
    code,
    exposure_row,
    filed_claim,
    key,
    make_world,
    ok,
    pay,
    reserve,
)
from tests.claims_support import policyholder


@pytest.fixture
async def world(client: AsyncClient, runtime: Runtime, session: AsyncSession) -> World:
    return await make_world(client, runtime, session)


@pytest.fixture
async def filed(client: AsyncClient, runtime: Runtime) -> AsyncIterator[Filed]:
    async with filed_claim(client, runtime) as made:
        yield made


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
    common: dict[str, Any] = {
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


async def test_reserves_above_authority_wait_and_history_keeps_every_change(
    session: AsyncSession, world: World
) -> None:
    exposure = await exposure_row(session, world.claim, limit=D(100000))

    async def set_(amount: str, actor: Actor) -> payments.Movement:
        moved: payments.Movement = ok(
            await reserve(session, world, exposure.id, amount, actor=actor)
        )
        return moved

    assert (await set_("30000.00", world.adjuster)).approval is not None  # limit 25,000
    assert (await set_("20000.00", world.adjuster)).approval is None
    assert (await set_("5000.00", world.adjuster)).approval is None  # down: no authority needed
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
        st.sampled_from(["reserve", "pay", "salvage", "subrogation", "decide"]),
        st.sampled_from([IND, EXP]),
        st.sampled_from(["a", "b"]),  # two categories per cost type
        st.decimals(min_value=0, max_value=30000, places=2),
        st.booleans(),  # the adjuster (within their authority, else an approval) or the admin
    ),
    min_size=1,
    max_size=14,
)
TOLERATED = {
    "claim.limit_exceeded",
    "claim.recovery_exceeds_paid",
    "claim.reserve_unchanged",
    "claim.reserve_moved",  # a reserve approval asked before another change on its line
}


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
async def test_any_sequence_keeps_the_ledger_balanced_and_totals_equal_to_transactions(
    session: AsyncSession, world: World, ops: list[tuple[str, CostType, str, Decimal, bool]]
) -> None:
    """Reserves, payments, recoveries and approval decisions in any order, by an adjuster (whose
    larger movements wait for approval) or an administrator: after every step the ledger
    balances, each line's totals equal its transactions, and indemnity paid stays within the
    limit net of the deductible."""
    claim = await claim_row(
        session, policy_id=world.claim.policy_id, customer_id=world.claim.customer_id
    )
    exposure = await exposure_row(session, claim, limit=D(40000), deductible=D(250))
    names = {
        IND: {"a": "vehicle_damage", "b": "loss_of_use"},
        EXP: {"a": "legal", "b": "appraisal"},
    }
    for op, cost_type, which, amount, by_adjuster in ops:
        category = names[cost_type][which]
        actor = world.adjuster if by_adjuster else world.admin
        result: Result[Any, Any]
        if op == "decide":
            pending = (
                await session.scalars(
                    select(Approval).where(
                        Approval.claim_id == claim.id, Approval.status == "pending"
                    )
                )
            ).all()
            for approval in pending:
                result = await approvals.decide(
                    session, approval.id, approve=by_adjuster, note=None, actor=world.admin
                )
                assert isinstance(result, Ok) or result.error.code in TOLERATED, result
            continue
        if amount == 0 and op != "reserve":
            continue
        if op == "reserve":
            result = await payments.set_reserve(
                session,
                claim.id,
                exposure.id,
                cost_type=cost_type,
                category=category,
                amount=amount,
                reason="r",
                actor=actor,
            )
        elif op == "pay":
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
                actor=actor,
            )
        else:
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
                actor=actor,
            )
        assert isinstance(result, Ok) or result.error.code in TOLERATED, result
        if isinstance(result, Ok) and result.value.approval is not None:
            assert result.value.transactions == []
            assert not by_adjuster or result.value.approval.requested_by == actor.id
        lines = await assert_books(session, claim.id)
        indemnity_paid = sum((line.paid for line in lines if line.cost_type == "indemnity"), D(0))
        assert indemnity_paid <= D(40000) - D(250)
        totals = await claim_totals(session, claim.id)
        assert totals.reserve == sum((line.reserve for line in lines), D(0))
        assert totals.paid == sum((line.paid for line in lines), D(0))
        assert totals.recovered == sum((line.recovered for line in lines), D(0))


# --- Through the API, on a claim filed by first notice ---


async def test_api_exposure_valuation_payment_replay_and_history(
    client: AsyncClient, filed: Filed
) -> None:
    opened = await client.post(
        f"{filed.url}/exposures",
        json={"coverage_code": "collision", "policy_unit": 0},
        headers=filed.adjuster,
    )
    assert opened.status_code == 201, opened.text
    exposure = opened.json()
    assert exposure["limit_amount"] is None  # collision pays the car's value
    assert exposure["payable_cap"] is None
    deductible = Decimal(exposure["deductible_amount"])
    url = f"{filed.url}/exposures/{exposure['id']}"
    body = {**PAYMENT, "amount": "100.00"}
    early = await client.post(f"{url}/payments", json=body, headers={**filed.adjuster, **key()})
    assert (early.status_code, early.json()["code"]) == (409, "claim.valuation_required")
    no_key = await client.post(f"{url}/payments", json=body, headers=filed.adjuster)
    assert (no_key.status_code, no_key.json()["code"]) == (422, "idempotency.key_required")

    valued = await client.post(
        f"{url}/valuation", json={"valuation": "8000.00", "reason": "ACV"}, headers=filed.adjuster
    )
    assert valued.status_code == 200, valued.text
    cap = Decimal(8000) - deductible
    assert Decimal(valued.json()["payable_cap"]) == cap

    same = key()
    body = {**PAYMENT, "amount": str(cap)}
    paid = await client.post(f"{url}/payments", json=body, headers={**filed.adjuster, **same})
    assert paid.status_code == 201, paid.text
    moved = paid.json()
    assert moved["status"] == "posted"
    assert [(t["kind"], t["reason"]) for t in moved["transactions"]] == [
        ("reserve", "raised to cover payment"),
        ("payment", "repair invoice"),
    ]
    replay = await client.post(f"{url}/payments", json=body, headers={**filed.adjuster, **same})
    assert replay.status_code == 200, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["transaction"]["id"] == moved["transaction"]["id"]
    assert replay.json()["transactions"] == moved["transactions"]  # the raise with it
    other = {**body, "amount": "1.00"}
    reused = await client.post(f"{url}/payments", json=other, headers={**filed.adjuster, **same})
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency.key_reused")
    over = await client.post(
        f"{url}/payments", json={**PAYMENT, "amount": "0.01"}, headers={**filed.adjuster, **key()}
    )
    assert (over.status_code, over.json()["code"]) == (409, "claim.limit_exceeded")
    assert over.json()["available"] == "0.00"

    reserve = {"cost_type": "expense", "category": "appraisal", "amount": "400.00", "reason": "x"}
    set_ = await client.post(f"{url}/reserves", json=reserve, headers=filed.adjuster)
    assert set_.status_code == 201, set_.text
    bad = await client.post(
        f"{url}/reserves", json={**reserve, "category": "body"}, headers=filed.adjuster
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "claim.category_unknown")
    history = (await client.get(f"{url}/reserves/history", headers=filed.adjuster)).json()
    assert [(t["kind"], Decimal(t["reserve_after"])) for t in history["items"]] == [
        ("reserve", cap),
        ("payment", 0),
        ("reserve", 400),
    ]
    # The claim's transactions, of one exposure: the same rows; of an exposure not its own, 404.
    of_claim = f"{filed.url}/transactions"
    filtered = await client.get(
        of_claim, params={"exposure_id": exposure["id"]}, headers=filed.adjuster
    )
    assert filtered.json()["items"] == history["items"]
    elsewhere = await client.get(
        of_claim, params={"exposure_id": str(uuid.uuid4())}, headers=filed.adjuster
    )
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, "claim.exposure_not_found")
    listed = (await client.get(f"{filed.url}/exposures", headers=filed.adjuster)).json()
    assert Decimal(listed["items"][0]["indemnity_paid"]) == cap
    assert Decimal(listed["items"][0]["indemnity_available"]) == 0


async def test_api_money_is_staff_business(client: AsyncClient, filed: Filed) -> None:
    # The agent sees the claim but handles none of its money.
    assert (await client.get(f"{filed.url}/exposures", headers=filed.agent)).status_code == 403
    stranger = await policyholder(client)
    hidden = await client.get(f"{filed.url}/exposures", headers=stranger.headers)
    assert hidden.status_code == 404
    nowhere = await client.get(f"/api/v1/claims/{uuid.uuid4()}/exposures", headers=filed.adjuster)
    assert nowhere.status_code == 404


async def test_api_every_movement_is_audited_and_announced(
    client: AsyncClient, runtime: Runtime, filed: Filed
) -> None:
    """Each movement writes its audit entry and its event; the policyholder's stream hears of
    what was paid on their loss, never of the carrier's expense (an appraisal here): an
    expense payment is audited, not announced (its reserve raise is a staff event)."""
    url = await bi_exposure(client, filed)
    body = {**PAYMENT, "category": "bodily_injury", "amount": "2000.00"}
    expense = {**PAYMENT, "cost_type": "expense", "category": "appraisal", "amount": "250.00"}
    for made in (body, expense):
        paid = await client.post(f"{url}/payments", json=made, headers={**filed.adjuster, **key()})
        assert paid.status_code == 201, paid.text
    recovery = {
        "kind": "subrogation",
        "category": "bodily_injury",
        "amount": "500.00",
        "payer": "Other Mutual",
        "reason": "at-fault carrier paid",
    }
    recovered = await client.post(f"{url}/recoveries", json=recovery, headers=filed.adjuster)
    assert recovered.status_code == 201, recovered.text
    waiting = await client.post(
        f"{url}/payments", json={**body, "amount": "20000.00"}, headers={**filed.adjuster, **key()}
    )
    assert waiting.status_code == 202, waiting.text
    async with runtime.db.unit_of_work() as session:
        events_ = (
            await session.execute(
                text(
                    "SELECT topic, payload, customer_id FROM outbox_events "
                    "WHERE aggregate_type = 'claim' AND aggregate_id = :id "
                    "AND topic <> ALL(:workflow) ORDER BY id"
                ),
                {
                    "id": filed.claim["id"],
                    "workflow": ["claim.reported", "claim.assigned", "claim.status_changed"],
                },
            )
        ).all()
        actions = (
            await session.scalars(
                text(
                    "SELECT action FROM audit_log WHERE resource_id = :id "
                    "AND action LIKE 'claim.%' ORDER BY id"
                ),
                {"id": filed.claim["id"]},
            )
        ).all()
    published = schemas()
    for topic, payload, customer_id in events_:
        entry = CATALOGUE[topic]
        jsonschema.validate(payload, published[topic])
        entry.payload.model_validate(payload)
        assert (customer_id is not None) == (entry.visibility == "customer"), topic
        assert (payload["claim_id"], payload["number"]) == (
            filed.claim["id"],
            filed.claim["number"],
        )
    assert [t for t, _, _ in events_] == [
        "claim.reserve_changed",  # raised to cover the payment
        "claim.payment_issued",
        "claim.reserve_changed",  # raised to cover the expense payment, which is not announced
        "claim.recovery_recorded",
        "claim.approval_requested",
    ]
    assert [p["amount"] for t, p, _ in events_ if t == "claim.payment_issued"] == ["2000.00"]
    assert [
        a
        for a in actions
        if a.startswith(
            ("claim.exposure", "claim.reserve", "claim.pay", "claim.recovery", "claim.approval")
        )
    ] == [
        "claim.exposure_opened",
        "claim.reserve_changed",
        "claim.payment_issued",
        "claim.reserve_changed",
        "claim.payment_issued",  # the expense payment, audited
        "claim.recovery_recorded",
        "claim.approval_requested",
    ]
