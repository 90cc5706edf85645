"""Legal holds through the API: placed on a policy, listed, released once and kept on record,
audited; bad input is a problem+json and changes nothing; only privacy:manage may touch them."""

from __future__ import annotations

import uuid

from httpx import AsyncClient
from sqlalchemy import text

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.privacy.service import holds
from tests.claims_support import bound_policy, staff

HOLDS = "/api/v1/privacy/holds"


def _body(scope: str, subject_id: str) -> dict[str, str]:
    return {
        "scope": scope,
        "subject_id": subject_id,
        "reason": "Claimant's counsel sent a preservation letter.",
        "matter_reference": "LIT-2026-021",
    }


async def test_a_hold_is_placed_listed_and_released(client: AsyncClient, runtime: Runtime) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    admin = await staff(client, runtime, Role.ADMIN)
    made = await bound_policy(client, agent)

    placed = await client.post(HOLDS, json=_body("policy", made.policy_id), headers=admin.headers)
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert hold["customer_id"] == made.customer_id, "a policy's hold preserves its customer"
    assert hold["active"] is True
    assert placed.headers["location"].endswith(hold["id"])
    async with runtime.db.sessionmaker() as session:
        active = await holds.active_for(session, customer_id=uuid.UUID(made.customer_id))
        assert [str(h.id) for h in active] == [hold["id"]]
        audited = await session.scalar(
            text(
                "SELECT changes::text FROM audit_log WHERE action = 'privacy.hold_placed'"
                " AND resource_id = :h"
            ),
            {"h": hold["id"]},
        )
        assert audited is not None
        assert "preservation" not in audited, "the reason is counsel's text, not audit data"

    listed = await client.get(HOLDS, params={"active": "true"}, headers=admin.headers)
    assert hold["id"] in [h["id"] for h in listed.json()["items"]]

    released = await client.post(
        f"{HOLDS}/{hold['id']}/release", json={"note": "Settled"}, headers=admin.headers
    )
    assert released.status_code == 200, released.text
    assert released.json()["active"] is False
    assert released.json()["released_by"]
    again = await client.post(f"{HOLDS}/{hold['id']}/release", json={}, headers=admin.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "privacy.hold_released"
    kept = await client.get(f"{HOLDS}/{hold['id']}", headers=admin.headers)
    assert kept.status_code == 200, "a released hold stays on record"
    assert kept.json()["release_note"] == "Settled"
    active_now = await client.get(HOLDS, params={"active": "true"}, headers=admin.headers)
    assert hold["id"] not in [h["id"] for h in active_now.json()["items"]]


async def test_bad_holds_are_refused_and_change_nothing(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await staff(client, runtime, Role.ADMIN)
    agent = await staff(client, runtime, Role.AGENT)
    before = await _count(runtime)
    unknown = await client.post(
        HOLDS, json=_body("claim", str(uuid.uuid4())), headers=admin.headers
    )
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    wrong_scope = await client.post(
        HOLDS, json=_body("planet", str(uuid.uuid4())), headers=admin.headers
    )
    assert wrong_scope.status_code == 422
    extra = await client.post(
        HOLDS,
        json={**_body("customer", str(uuid.uuid4())), "released_at": "now"},
        headers=admin.headers,
    )
    assert extra.status_code == 422, "unknown fields are refused"
    refused = await client.post(
        HOLDS, json=_body("customer", str(uuid.uuid4())), headers=agent.headers
    )
    assert refused.status_code == 403
    missing = await client.post(f"{HOLDS}/{uuid.uuid4()}/release", json={}, headers=admin.headers)
    assert missing.status_code == 404
    assert await _count(runtime) == before


async def test_the_retention_schedule_is_shown(client: AsyncClient, runtime: Runtime) -> None:
    admin = await staff(client, runtime, Role.ADMIN)
    shown = await client.get("/api/v1/privacy/retention/schedule", headers=admin.headers)
    assert shown.status_code == 200, shown.text
    periods = {p["record_class"]: p for p in shown.json()["periods"]}
    assert (
        periods["former_insured"]["years"]
        == runtime.settings.privacy_retention_former_insured_years
    )
    assert periods["former_insured"]["action"] == "pseudonymise"
    assert periods["prospect"]["action"] == "erase"
    runs = await client.get("/api/v1/privacy/retention/runs", headers=admin.headers)
    assert runs.status_code == 200


async def _count(runtime: Runtime) -> int:
    async with runtime.db.sessionmaker() as session:
        return int(await session.scalar(text("SELECT count(*) FROM privacy_legal_holds")) or 0)
