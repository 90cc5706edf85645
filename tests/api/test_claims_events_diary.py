"""Claim events and the diary through the API: the policyholder is told of their own claims'
status (over the API and live) and of no one else's, every claim event written is catalogued
with its documented visibility (and nothing closes while an approval waits), and the diary
across claims."""

from __future__ import annotations

import uuid
from datetime import date

import jsonschema  # type: ignore[import-untyped]
from httpx import AsyncClient
from sqlalchemy import text

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.events import service as events
from pd_prime_demo.events.catalogue import CATALOGUE, schemas
from pd_prime_demo.identity.rules import user_actor
from tests.claims_support import (
    LOSS_AFTER_INCEPTION,
    at,
    bound_policy,
    claim_in_force,
    file_claim,
    filing_day,
    fresh,
    loss_time,
    policyholder,
    staff,
)
from tests.claims_workflow_support import API, move, publish, read, url


async def test_the_policyholder_is_told_of_their_claims_status_and_no_one_elses(
    client: AsyncClient, runtime: Runtime
) -> None:
    adjuster = await staff(client, runtime, Role.ADJUSTER)
    holders = [await policyholder(client) for _ in range(2)]
    made = [await bound_policy(client, h) for h in holders]
    claims = []
    with at(filing_day(made[0])):
        for holder, policy in zip(holders, made, strict=True):
            claims.append(
                await file_claim(
                    client,
                    await fresh(client, holder),
                    policy.policy_id,
                    loss_at=loss_time(policy.inception + LOSS_AFTER_INCEPTION),
                )
            )
        adjuster_h = await fresh(client, adjuster)
        for claim in claims:
            moved = await move(client, adjuster_h, claim, status="under_investigation")
            assert moved.status_code == 200, moved.text
        await publish(runtime)
        first = await client.get(
            "/api/v1/events", params={"type": "claim.*"}, headers=await fresh(client, holders[0])
        )
        assert first.status_code == 200, first.text
        seen = [(e["type"], e["aggregate_id"], e["data"].get("to")) for e in first.json()["items"]]
        assert ("claim.status_changed", claims[0]["id"], "under_investigation") in seen
        assert {aggregate for _, aggregate, _ in seen} == {claims[0]["id"]}
        assert "claim.assigned" not in {t for t, _, _ in seen}  # the adjuster's business
        company = await client.get(
            "/api/v1/events", params={"type": "claim.assigned"}, headers=adjuster_h
        )
        assert {e["aggregate_id"] for e in company.json()["items"]} >= {c["id"] for c in claims}
    # Live updates: the hub filters each published batch per connection with the same rules.
    async with runtime.db.sessionmaker() as session:
        batch = [
            e
            for e in await events.published_after(session, 0, limit=5000)
            if e.type[:6] == "claim."
        ]
        actors = []
        for holder in holders:
            user_id = await session.scalar(
                text("SELECT id FROM users WHERE email = :e"), {"e": holder.email}
            )
            actors.append(user_actor(user_id, Role.CUSTOMER.value, None))
        audiences = [events.audience_of(a) for a in actors]
        allowed = await events.recipients(session, batch, audiences)
        live = [
            {(e.type, e.aggregate_id) for e in batch if events.admits(audience, e, allowed)}
            for audience in audiences
        ]
    for mine, claim in zip(live, claims, strict=True):
        assert ("claim.status_changed", claim["id"]) in mine
        assert ("claim.assigned", claim["id"]) not in mine
        assert {aggregate for _, aggregate in mine} == {claim["id"]}


async def test_nothing_closes_while_an_approval_waits_and_every_claim_event_is_catalogued(
    client: AsyncClient, runtime: Runtime
) -> None:
    """A payment above the adjuster's authority waits for approval, and the claim cannot
    close meanwhile. Then every claim event this claim's life wrote to the outbox has a
    catalogued type, a payload its strict model accepts, and the documented visibility
    (a customer's events carry the customer; staff events none)."""
    adjuster = await staff(client, runtime, Role.ADJUSTER)
    made, _, claim = await claim_in_force(client, runtime)
    with at(filing_day(made)):
        headers = await fresh(client, adjuster)
        exposure = await client.post(
            url(claim, "/exposures"),
            json={"coverage_code": "collision", "policy_unit": 0},
            headers=headers,
        )
        assert exposure.status_code == 201, exposure.text
        lines = url(claim, f"/exposures/{exposure.json()['id']}")
        valued = await client.post(
            f"{lines}/valuation",
            json={"valuation": "30000.00", "reason": "total loss"},
            headers=headers,
        )
        assert valued.status_code == 200, valued.text
        line = {"cost_type": "indemnity", "category": "vehicle_damage"}
        reserved = await client.post(
            f"{lines}/reserves",
            json={**line, "amount": "20000.00", "reason": "total loss"},
            headers=headers,
        )
        assert reserved.status_code == 201, reserved.text
        waiting = await client.post(
            f"{lines}/payments",
            json={**line, "amount": "15000.00", "payee": "Insured", "reason": "settlement"},
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert waiting.status_code == 202, waiting.text
        read_back = await read(client, headers, claim)
        assert [a["amount"] for a in read_back["pending_approvals"]] == ["15000.00"]
        closing = await move(client, headers, claim, status="closed", outcome="without_payment")
        assert closing.status_code == 409
        assert closing.json()["code"] == "claim.approvals_pending"
        assert (await read(client, headers, claim))["status"] == "open"  # nothing moved
    async with runtime.db.unit_of_work() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT topic, payload, customer_id FROM outbox_events "
                    "WHERE aggregate_type = 'claim' AND aggregate_id = :id ORDER BY id"
                ),
                {"id": claim["id"]},
            )
        ).all()
    published = schemas()
    topics = []
    for topic, payload, customer_id in rows:
        entry = CATALOGUE[topic]
        jsonschema.validate(payload, published[topic])
        entry.payload.model_validate(payload)
        assert (customer_id is not None) == (entry.visibility == "customer"), topic
        assert payload["claim_id"] == claim["id"]
        assert payload["number"] == claim["number"]
        topics.append(topic)
    assert topics[:3] == ["claim.reported", "claim.assigned", "claim.status_changed"]
    assert {"claim.reserve_changed", "claim.approval_requested"} <= set(topics)


async def test_the_diary_across_claims(client: AsyncClient, runtime: Runtime) -> None:
    adjuster = await staff(client, runtime, Role.ADJUSTER)
    made, _, claim = await claim_in_force(client, runtime)
    with at(filing_day(made)):
        headers = await fresh(client, adjuster)
        due = [date(2030, 1, 10), date(2030, 1, 5), date(2030, 2, 1)]
        tasks = []
        for i, on in enumerate(due):
            created = await client.post(
                url(claim, "/diary"),
                json={"title": f"task {i}", "due_on": on.isoformat()},
                headers=headers,
            )
            assert created.status_code == 201, created.text
            assert created.json()["assigned_to"] == str(adjuster.user_id)  # the claim's
            tasks.append(created.json())
        mine = await client.get(
            f"{API}/diary",
            params={"assignee": "me", "due_before": "2030-01-31", "limit": 1},
            headers=headers,
        )
        assert [t["title"] for t in mine.json()["items"]] == ["task 1"]
        rest = await client.get(
            f"{API}/diary",
            params={
                "assignee": "me",
                "due_before": "2030-01-31",
                "cursor": mine.json()["next_cursor"],
            },
            headers=headers,
        )
        assert [t["title"] for t in rest.json()["items"]] == ["task 0"]
        done = await client.post(url(claim, f"/diary/{tasks[1]['id']}/complete"), headers=headers)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "done"
        again = await client.post(url(claim, f"/diary/{tasks[1]['id']}/complete"), headers=headers)
        assert again.status_code == 409
        left = await client.get(f"{API}/diary", params={"assignee": "me"}, headers=headers)
        assert [t["title"] for t in left.json()["items"]] == ["task 0", "task 2"]
