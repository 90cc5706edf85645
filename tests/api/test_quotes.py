"""Quotes end to end: rating, validation, underwriting referrals, expiry, access."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.clock import frozen_at
from pd_prime_demo.core.runtime import Runtime
from tests.factories import Login, auto_quote, home_quote, person, user_login, verify_address


async def _customer(client: AsyncClient, agent: Login) -> str:
    response = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    assert response.status_code == 201
    return str(response.json()["id"])


async def _quote(client: AsyncClient, who: Login, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/quotes", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_agent_quotes_two_packages_side_by_side(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    customer_id = await _customer(client, agent)
    quote = await _quote(client, agent, auto_quote(customer_id))
    assert quote["status"] == "quoted"
    assert quote["rate_version"] == "TX-2026.1"
    assert quote["number"].startswith("Q-")
    standard, full = quote["rating"]
    assert set(standard["coverage_premiums"]) == {"bi", "pd"}
    assert Decimal(full["premium"]) > Decimal(standard["premium"])
    assert Decimal(full["total"]) == Decimal(full["premium"]) + Decimal("25.00")
    events = (
        await session.scalars(
            text("SELECT topic FROM outbox_events WHERE aggregate_id = :id ORDER BY id"),
            {"id": quote["id"]},
        )
    ).all()
    assert events == ["quote.created", "quote.quoted"]
    actions = (
        await session.scalars(
            text("SELECT action FROM audit_log WHERE resource_id = :id ORDER BY id"),
            {"id": quote["id"]},
        )
    ).all()
    assert actions == ["quote.draft", "quote.quoted"]


async def test_invalid_selections_point_at_the_field(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    customer_id = await _customer(client, agent)
    body = auto_quote(customer_id)
    body["options"] = [{"name": "bad", "coverages": {"bi": {"limit": "999/999"}, "collision": {}}}]
    body["risk"]["drivers"][0]["age"] = 12
    body["risk"]["vehicles"][1]["driver"] = 5
    body["risk"]["policy"]["territory"] = "mars"
    response = await client.post("/api/v1/quotes", json=body, headers=agent.headers)
    assert response.status_code == 422
    pointers = {e["pointer"]: e["detail"] for e in response.json()["errors"]}
    assert "#/options/0/coverages/bi/limit" in pointers
    assert pointers["#/options/0/coverages/pd"] == "this coverage is required"
    assert "#/risk/drivers/0/age" in pointers
    assert "#/risk/vehicles/1/driver" in pointers
    assert "#/risk/policy/territory" in pointers
    listed = await client.get("/api/v1/quotes", headers=agent.headers)
    assert listed.json()["items"] == [], "a rejected quote leaves nothing behind"


async def test_no_rate_version_in_state(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    customer_id = await _customer(client, agent)
    response = await client.post(
        "/api/v1/quotes", json=auto_quote(customer_id, state="CA"), headers=agent.headers
    )
    assert response.status_code == 422
    assert response.json()["code"] == "quote.no_rate_version"
    past = await client.post(
        "/api/v1/quotes",
        json=auto_quote(customer_id, effective_on="2020-01-01"),
        headers=agent.headers,
    )
    assert past.json()["errors"][0]["pointer"] == "#/effective_on"


async def test_knockout_declines_with_reasons(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    body = auto_quote(await _customer(client, agent))
    body["risk"]["drivers"][1]["accidents_3y"] = 4
    quote = await _quote(client, agent, body)
    assert quote["status"] == "declined"
    assert quote["underwriting"] == [
        {
            "code": "too_many_accidents",
            "action": "decline",
            "authority": 1,
            "where": "driver[1]",
            "reason": "A driver has four or more at-fault accidents in three years",
        }
    ]


async def test_referral_queue_authority_and_approval_with_surcharge(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    junior = await user_login(client, runtime, Role.UNDERWRITER)
    admin = await user_login(client, runtime, Role.ADMIN)
    body = auto_quote(await _customer(client, agent))
    body["risk"]["vehicles"][0]["symbol"] = "D"
    quote = await _quote(client, agent, body)
    assert quote["status"] == "referred"
    assert quote["required_authority"] == 2
    junior_queue = await client.get("/api/v1/underwriting/referrals", headers=junior.headers)
    assert quote["id"] not in {q["id"] for q in junior_queue.json()["items"]}
    url = f"/api/v1/quotes/{quote['id']}/underwriting-decision"
    too_junior = await client.post(
        url, json={"decision": "approve", "note": "ok"}, headers=junior.headers
    )
    assert too_junior.status_code == 403
    assert too_junior.json()["code"] == "underwriting.insufficient_authority"
    agent_tries = await client.post(
        url, json={"decision": "approve", "note": "x"}, headers=agent.headers
    )
    assert agent_tries.status_code == 403
    senior_queue = await client.get("/api/v1/underwriting/referrals", headers=admin.headers)
    assert quote["id"] in {q["id"] for q in senior_queue.json()["items"]}
    before = Decimal(quote["rating"][0]["premium"])
    approved = await client.post(
        url,
        json={"decision": "approve", "note": "garaged, low mileage", "surcharge_percent": "10"},
        headers=admin.headers,
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved"
    assert body["surcharge_percent"] == "10", "the surcharge reads as it was given"
    assert body["decision_note"] == "garaged, low mileage"
    assert Decimal(body["rating"][0]["premium"]) == (before * Decimal("1.10")).quantize(
        Decimal("0.01")
    )
    again = await client.post(url, json={"decision": "decline", "note": "x"}, headers=admin.headers)
    assert again.status_code == 409
    topics = (
        await session.scalars(
            text("SELECT topic FROM outbox_events WHERE aggregate_id = :id ORDER BY id"),
            {"id": quote["id"]},
        )
    ).all()
    assert topics == ["quote.created", "quote.referred", "quote.approved"]


async def test_underwriter_declines_referral_and_can_change_terms(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    underwriter = await user_login(client, runtime, Role.UNDERWRITER)
    body = auto_quote(await _customer(client, agent))
    body["risk"]["drivers"][0]["violations_3y"] = 3
    referred = await _quote(client, agent, body)
    assert referred["status"] == "referred"
    url = f"/api/v1/quotes/{referred['id']}/underwriting-decision"
    declined = await client.post(
        url, json={"decision": "decline", "note": "driving record"}, headers=underwriter.headers
    )
    assert declined.json()["status"] == "declined"
    second = await _quote(client, agent, body)
    changed = await client.post(
        url.replace(referred["id"], second["id"]),
        json={
            "decision": "approve",
            "note": "liability only",
            "options": [
                {
                    "name": "liability",
                    "coverages": {"bi": {"limit": "30/60"}, "pd": {"limit": "25"}},
                }
            ],
        },
        headers=underwriter.headers,
    )
    assert changed.status_code == 200
    assert [o["name"] for o in changed.json()["rating"]] == ["liability"]


async def test_update_re_rates_open_quote_only(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    quote = await _quote(client, agent, auto_quote(await _customer(client, agent)))
    url = f"/api/v1/quotes/{quote['id']}"
    risk = copy.deepcopy(quote["risk"])
    risk["policy"]["multi_policy"] = True
    missing_tag = await client.patch(url, json={"risk": risk}, headers=agent.headers)
    assert missing_tag.status_code == 428
    # A submitted quote is written once, already rated: its first version.
    etag = (await client.get(url, headers=agent.headers)).headers["ETag"]
    assert etag == '"1"'
    updated = await client.patch(
        url, json={"risk": risk}, headers={**agent.headers, "If-Match": etag}
    )
    assert updated.status_code == 200, updated.text
    assert Decimal(updated.json()["rating"][0]["premium"]) < Decimal(quote["rating"][0]["premium"])
    draft = await client.patch(
        url, json={"submit": False}, headers={**agent.headers, "If-Match": "*"}
    )
    assert draft.json()["status"] == "draft"
    assert draft.json()["rating"] is None
    body = auto_quote(quote["customer_id"])
    body["risk"]["drivers"][0]["accidents_3y"] = 5
    declined = await _quote(client, agent, body)
    closed = await client.patch(
        f"/api/v1/quotes/{declined['id']}",
        json={"submit": True},
        headers={**agent.headers, "If-Match": "*"},
    )
    assert closed.status_code == 409


async def test_other_agents_quote_is_404_and_customer_sees_own(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    other = await user_login(client, runtime, Role.AGENT)
    customer_id = await _customer(client, agent)
    quote = await _quote(client, agent, auto_quote(customer_id))
    url = f"/api/v1/quotes/{quote['id']}"
    assert (await client.get(url, headers=other.headers)).status_code == 404
    assert (await client.get(f"{url}/worksheet", headers=other.headers)).status_code == 404
    assert (await client.get("/api/v1/quotes", headers=other.headers)).json()["items"] == []
    foreign = await client.post(
        "/api/v1/quotes", json=auto_quote(customer_id), headers=other.headers
    )
    assert foreign.status_code == 422
    assert foreign.json()["code"] == "quote.unknown_customer"
    registration = {
        "email": "quote.me@example.com",
        "password": "a long passphrase of mine",
        "first_name": "Q",
        "last_name": "Me",
        "address": {
            "line1": "1 Main St",
            "city": "Columbus",
            "state": "OH",
            "postal_code": "43004",
        },
    }
    assert (await client.post("/api/v1/registrations", json=registration)).status_code == 202
    await verify_address(client, "quote.me@example.com")
    tokens = (
        await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "quote.me@example.com",
                "password": "a long passphrase of mine",
            },
        )
    ).json()
    me = {"Authorization": f"Bearer {tokens['access_token']}"}
    own = (await client.get("/api/v1/customers", headers=me)).json()["items"][0]["id"]
    mine = await client.post("/api/v1/quotes", json=home_quote(own), headers=me)
    assert mine.status_code == 201, mine.text
    # Buying directly, cover starts today at the earliest; an agent may back-date it within
    # the product's window.
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    back_dated = {**home_quote(own), "effective_on": yesterday}
    refused = await client.post("/api/v1/quotes", json=back_dated, headers=me)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["pointer"] == "#/effective_on"
    by_agent = {**auto_quote(customer_id), "effective_on": yesterday}
    assert (
        await client.post("/api/v1/quotes", json=by_agent, headers=agent.headers)
    ).status_code == 201
    assert (await client.get(url, headers=me)).status_code == 404
    assert [q["id"] for q in (await client.get("/api/v1/quotes", headers=me)).json()["items"]] == [
        mine.json()["id"]
    ]


async def test_quote_expires_after_validity(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    quote = await _quote(client, agent, auto_quote(await _customer(client, agent)))
    assert quote["expires_on"] == (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    later = datetime.now(UTC) + timedelta(days=31)
    with frozen_at(later):
        login_again = await user_login(client, runtime, Role.ADMIN)
        read = await client.get(f"/api/v1/quotes/{quote['id']}", headers=login_again.headers)
    assert read.json()["status"] == "expired"
    topic = await session.scalar(
        text("SELECT topic FROM outbox_events WHERE aggregate_id = :id ORDER BY id DESC LIMIT 1"),
        {"id": quote["id"]},
    )
    assert topic == "quote.expired"


async def test_worksheet_recomputes_the_premium(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    quote = await _quote(client, agent, home_quote(await _customer(client, agent)))
    sheet = (
        await client.get(f"/api/v1/quotes/{quote['id']}/worksheet", headers=agent.headers)
    ).json()
    assert sheet["rate_version"] == "OH-2026.1"
    lines = sheet["options"][0]["lines"]
    dwelling = [line for line in lines if line["coverage"] == "dwelling"]
    assert [line["step"] for line in dwelling][:3] == [
        "base rate",
        "territory",
        "amount of insurance",
    ]
    # Replaying the multiply steps by hand gives each running amount.
    amount = Decimal(dwelling[0]["amount"])
    for line in dwelling[1:-1]:
        if line["op"] in ("multiply", "discounts") and line["factor"] is not None:
            amount *= Decimal(line["factor"])
        assert Decimal(line["amount"]) == amount
    assert Decimal(sheet["options"][0]["premium"]) == Decimal(quote["rating"][0]["premium"])
    draft = await _quote(client, agent, {**home_quote(quote["customer_id"]), "submit": False})
    assert draft["status"] == "draft"
    not_rated = await client.get(f"/api/v1/quotes/{draft['id']}/worksheet", headers=agent.headers)
    assert not_rated.status_code == 409


async def test_idempotent_quote_creation(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    body = auto_quote(await _customer(client, agent))
    headers = {**agent.headers, "Idempotency-Key": "quote-1"}
    first = await client.post("/api/v1/quotes", json=body, headers=headers)
    second = await client.post("/api/v1/quotes", json=body, headers=headers)
    assert first.json()["id"] == second.json()["id"]
    assert len((await client.get("/api/v1/quotes", headers=agent.headers)).json()["items"]) == 1


async def test_a_value_the_database_cannot_store_is_a_422_that_changes_nothing(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    """PostgreSQL refuses NUL (U+0000) in text and in jsonb: found by fuzzing as a 500."""
    agent = await user_login(client, runtime, Role.AGENT)
    customer_id = await _customer(client, agent)
    counts = "SELECT (SELECT count(*) FROM quotes), (SELECT count(*) FROM audit_log)"
    before = (await session.execute(text(counts))).one()
    body = auto_quote(customer_id)
    body["options"][0]["name"] = "Standard\x00"
    response = await client.post("/api/v1/quotes", json=body, headers=agent.headers)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "request.unstorable_value"
    assert "NUL" in problem["detail"]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await session.execute(text(counts))).one() == before

    admin = await user_login(client, runtime, Role.ADMIN)
    listed = await client.get(
        "/api/v1/products/versions", params={"product_code": "\x00auto"}, headers=admin.headers
    )
    assert listed.status_code == 422, listed.text
    assert listed.json()["code"] == "request.unstorable_value"
