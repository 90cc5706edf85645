"""Authority and approvals: a reserve or payment above the requester's authority waits for
someone else whose authority covers it (never the same person, through whatever credential),
posts when approved with the limits checked again, and a reserve approval is refused once the
line's reserve moved; authority limits are set by a configurer, never their own or their role's.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims.money_models import AuthorityLimit, ClaimTransaction
from pd_prime_demo.claims.service import approvals, authority
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.result_types import Result
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.telemetry import REGISTRY
from tests.claims_money_support import (
    IND,
    PAYMENT,
    D,
    Filed,
    World,
    actor_of,
    assert_books,
    bi_exposure,
    code,
    exposure_row,
    filed_claim,
    key,
    make_world,
    ok,
    pay,
    reserve,
)
from tests.factories import create_user


def claim_payments() -> tuple[float, float]:
    """The /metrics counters of claim payments issued and money paid (USD)."""
    usd = {"currency": "USD"}
    return (
        REGISTRY.get_sample_value("pd_prime_claim_payments_total", usd) or 0.0,
        REGISTRY.get_sample_value("pd_prime_claim_paid_amount_total", usd) or 0.0,
    )


@pytest.fixture
async def world(client: AsyncClient, runtime: Runtime, session: AsyncSession) -> World:
    return await make_world(client, runtime, session)


@pytest.fixture
async def filed(client: AsyncClient, runtime: Runtime) -> AsyncIterator[Filed]:
    async with filed_claim(client, runtime) as made:
        yield made


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


async def test_a_users_own_authority_row_overrides_their_roles(
    session: AsyncSession, world: World
) -> None:
    exposure = await exposure_row(session, world.claim, limit=D(50000), deductible=D(0))
    assert world.adjuster.user_id is not None
    set_by = {
        actor.id: await authority.set_authority(
            session,
            role=None,
            user_id=world.adjuster.user_id,
            cost_type=IND,
            reserve_limit=D(1000),
            payment_limit=D(1000),
            actor=actor,
        )
        for actor in (world.other_adjuster, world.admin)
    }
    assert code(set_by[world.other_adjuster.id]) == "auth.permission_missing"
    ok(set_by[world.admin.id])
    assert ok(await pay(session, world, exposure.id, "2000.00")).approval is not None
    assert (
        ok(await pay(session, world, exposure.id, "2000.00", actor=world.other_adjuster)).approval
        is None
    )


async def test_api_over_authority_is_202_and_approved_by_someone_else(
    client: AsyncClient, filed: Filed
) -> None:
    url = await bi_exposure(client, filed)
    same = key()
    body = {**PAYMENT, "category": "bodily_injury", "amount": "12000.00"}
    asked = await client.post(f"{url}/payments", json=body, headers={**filed.adjuster, **same})
    assert asked.status_code == 202, asked.text
    approval = asked.json()["approval"]
    assert (approval["status"], asked.json()["transactions"]) == ("pending", [])
    replay = await client.post(f"{url}/payments", json=body, headers={**filed.adjuster, **same})
    assert (replay.status_code, replay.json()["approval"]["id"]) == (202, approval["id"])
    decide = f"/api/v1/claims/approvals/{approval['id']}"
    # A payment waiting for approval is not paid yet; it counts once approved, and only then.
    before = claim_payments()
    mine = await client.post(f"{decide}/approve", headers=filed.adjuster)  # no body needed
    assert (mine.status_code, mine.json()["code"]) == (403, "claim.self_approval")
    agent = await client.post(f"{decide}/approve", json={}, headers=filed.agent)
    assert agent.status_code == 403
    done = await client.post(f"{decide}/approve", json={"note": "ok"}, headers=filed.admin)
    assert done.status_code == 200, done.text
    assert done.json()["approval"]["status"] == "approved"
    assert [t["kind"] for t in done.json()["transactions"]] == ["reserve", "payment"]
    again = await client.post(f"{decide}/reject", json={}, headers=filed.admin)
    assert (again.status_code, again.json()["code"]) == (409, "claim.approval_decided")
    assert claim_payments() == (before[0] + 1, before[1] + 12000.0)
    read = await client.get(decide, headers=filed.adjuster)
    assert read.json()["decided_by"] is not None


async def test_api_authority_limits_are_set_by_configurers_and_audited(
    client: AsyncClient, filed: Filed
) -> None:
    row = {
        "role": "adjuster",
        "cost_type": "expense",
        "reserve_limit": "12000.00",
        "payment_limit": "6000.00",
    }
    refused = await client.put("/api/v1/claims/authority-limits", json=row, headers=filed.adjuster)
    assert refused.status_code == 403
    both = await client.put(
        "/api/v1/claims/authority-limits",
        json={**row, "user_id": str(uuid.uuid4())},
        headers=filed.admin,
    )
    assert both.status_code == 422
    own = await client.put(
        "/api/v1/claims/authority-limits", json={**row, "role": "admin"}, headers=filed.admin
    )
    assert (own.status_code, own.json()["code"]) == (403, "claim.own_authority")
    set_ = await client.put("/api/v1/claims/authority-limits", json=row, headers=filed.admin)
    assert set_.status_code == 200, set_.text
    assert set_.json()["reserve_limit"] == "12000.00"
    listed = await client.get("/api/v1/claims/authority-limits", headers=filed.adjuster)
    assert listed.status_code == 200, listed.text
    mine = [
        r for r in listed.json()["items"] if (r["role"], r["cost_type"]) == ("adjuster", "expense")
    ]
    assert [(r["reserve_limit"], r["payment_limit"]) for r in mine] == [("12000.00", "6000.00")]


async def test_nobody_approves_their_own_request_through_another_credential(
    client: AsyncClient, filed: Filed
) -> None:
    """The person, not the credential: a payment asked through an adjuster's API key is not
    theirs to approve through their login, even with their own authority raised to cover
    it (nor the other way round); someone else approves it."""

    async def adjusters_limit(amount: str) -> None:
        limits = {"reserve_limit": amount, "payment_limit": amount, "cost_type": "indemnity"}
        who = {"user_id": str(filed.adjuster_login.user_id)}
        put = "/api/v1/claims/authority-limits"
        changed = await client.put(put, json={**limits, **who}, headers=filed.admin)
        assert changed.status_code == 200, changed.text

    url = await bi_exposure(client, filed)
    made = await client.post(
        "/api/v1/api-keys",
        json={"name": "Claims desk", "scopes": ["customers:read", "claims:read", "claims:pay"]},
        headers=filed.adjuster,
    )
    assert made.status_code == 201, made.text
    by_key = {"Authorization": f"Bearer {made.json()['key']}"}
    body = {**PAYMENT, "category": "bodily_injury", "amount": "12000.00"}
    asked = await client.post(f"{url}/payments", json=body, headers={**by_key, **key()})
    assert asked.status_code == 202, asked.text  # above the adjuster's 10,000
    approval = asked.json()["approval"]
    assert approval["requested_by"] == f"api_key:{made.json()['id']}"
    assert approval["reserve_before"] == "0.00"
    await adjusters_limit("50000.00")
    decide = f"/api/v1/claims/approvals/{approval['id']}"
    mine = await client.post(f"{decide}/approve", json={}, headers=filed.adjuster)
    assert (mine.status_code, mine.json()["code"]) == (403, "claim.self_approval")
    # Asked through the login, decided through the key: the same person again.
    await adjusters_limit("1000.00")
    other = await client.post(
        f"{url}/payments", json={**body, "amount": "2000.00"}, headers={**filed.adjuster, **key()}
    )
    assert other.status_code == 202, other.text
    back = await client.post(
        f"/api/v1/claims/approvals/{other.json()['approval']['id']}/approve",
        json={},
        headers=by_key,
    )
    assert (back.status_code, back.json()["code"]) == (403, "claim.self_approval")
    done = await client.post(f"{decide}/approve", json={}, headers=filed.admin)
    assert done.status_code == 200, done.text
    assert [t["kind"] for t in done.json()["transactions"]] == ["reserve", "payment"]


async def test_a_configurer_sets_neither_their_own_authority_nor_their_roles(
    session: AsyncSession, runtime: Runtime, world: World
) -> None:
    admin, other_admin = world.admin, actor_of(await create_user(runtime, Role.ADMIN), Role.ADMIN)
    assert admin.user_id is not None

    async def set_(
        actor: Actor, *, role: Role | None = None, user_id: uuid.UUID | None = None
    ) -> Result[AuthorityLimit, Any]:
        return await authority.set_authority(
            session,
            role=role,
            user_id=user_id,
            cost_type=IND,
            reserve_limit=D(777_777),
            payment_limit=D(777_777),
            actor=actor,
        )

    assert code(await set_(admin, user_id=admin.user_id)) == "claim.own_authority"
    assert code(await set_(admin, role=Role.ADMIN)) == "claim.own_authority"
    ok(await set_(other_admin, user_id=admin.user_id))  # another person may
    ok(await set_(admin, role=Role.ADJUSTER))  # and another role's row
    rows = ok(await authority.list_authority(session, actor=admin))
    assert {(r.role, r.user_id) for r in rows if r.reserve_limit == D(777_777)} == {
        (None, admin.user_id),
        ("adjuster", None),
    }


async def test_a_reserve_approval_is_refused_once_the_reserve_moved(
    session: AsyncSession, world: World
) -> None:
    """Asked to take the reserve from 0 to 30,000; the adjuster sets it to 20,000 meanwhile:
    approving would set 30,000 from a figure the request never saw. Refused, still pending,
    and rejected; a request asked from the reserve as it stands is approved."""
    exposure = await exposure_row(session, world.claim, limit=D(100000))
    first = ok(await reserve(session, world, exposure.id, "30000.00", actor=world.adjuster))
    assert first.approval is not None  # above the adjuster's 25,000
    assert first.approval.reserve_before == D(0)
    ok(await reserve(session, world, exposure.id, "20000.00", actor=world.adjuster))
    moved = await approvals.decide(
        session, first.approval.id, approve=True, note=None, actor=world.admin
    )
    assert code(moved) == "claim.reserve_moved"
    await session.refresh(first.approval)
    assert first.approval.status == "pending"
    rejected = ok(
        await approvals.decide(
            session, first.approval.id, approve=False, note="moved", actor=world.admin
        )
    )
    assert rejected.approval.status == "rejected"
    second = ok(await reserve(session, world, exposure.id, "30000.00", actor=world.adjuster))
    assert second.approval.reserve_before == D(20000)
    done = ok(
        await approvals.decide(
            session, second.approval.id, approve=True, note=None, actor=world.admin
        )
    )
    assert [(t.amount, t.reserve_after) for t in done.transactions] == [(D(10000), D(30000))]
    lines = await assert_books(session, world.claim.id)
    assert [line.reserve for line in lines] == [D(30000)]
