"""Webhook subscriptions through the API: made for a live API client, managed by the client,
its owner or an administrator (anyone else gets a 404), bad input refused with nothing kept."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.webhooks.rules import MAX_SUBSCRIPTIONS_PER_CLIENT
from tests.factories import Login, user_login

SUBSCRIPTIONS = "/api/v1/webhooks/subscriptions"
SCOPES = ["webhooks:manage", "events:read", "customers:read"]


async def register_client(
    client: AsyncClient, admin: Login, owner: Login, scopes: list[str] = SCOPES
) -> dict[str, str]:
    """An API client of ``owner`` and bearer headers of its token."""
    registered = await client.post(
        "/api/v1/api-clients",
        json={"name": "Agency system", "owner_id": str(owner.user_id), "scopes": scopes},
        headers=admin.headers,
    )
    assert registered.status_code == 201, registered.text
    body = registered.json()
    token = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": body["id"],
            "client_secret": body["client_secret"],
        },
    )
    assert token.status_code == 200, token.text
    return {"id": body["id"], "Authorization": f"Bearer {token.json()['access_token']}"}


def bearer(registered: dict[str, str]) -> dict[str, str]:
    return {"Authorization": registered["Authorization"]}


async def _count(session: AsyncSession) -> int:
    return int(
        (await session.execute(text("SELECT count(*) FROM webhook_subscriptions"))).scalar_one()
    )


def _subscription(**overrides: Any) -> dict[str, Any]:
    return {"url": "http://127.0.0.1:9/hook", "event_types": ["quote.*"], **overrides}


async def test_a_client_subscribes_and_its_owner_and_admins_manage_it_others_see_nothing(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    other_agent = await user_login(client, runtime, Role.AGENT)
    api = await register_client(client, admin, agent)

    made = await client.post(
        SUBSCRIPTIONS,
        json=_subscription(event_types=["quote.*", "policy.bound", "quote.*"]),
        headers=bearer(api),
    )
    assert made.status_code == 201, made.text
    created = made.json()
    assert made.headers["cache-control"] == "no-store"
    assert made.headers["location"] == f"{SUBSCRIPTIONS}/{created['id']}"
    assert created["client_id"] == api["id"]
    assert created["owner_id"] == str(agent.user_id)
    assert created["event_types"] == ["quote.*", "policy.bound"]
    assert created["secret"].startswith("whsec_")
    Webhook(created["secret"])  # a valid Standard Webhooks secret
    url = f"{SUBSCRIPTIONS}/{created['id']}"

    for who in (bearer(api), agent.headers, admin.headers):
        read = await client.get(url, headers=who)
        assert read.status_code == 200, read.text
        assert "secret" not in read.json()
        listed = (await client.get(SUBSCRIPTIONS, headers=who)).json()
        assert [s["id"] for s in listed["items"]] == [created["id"]]
    assert (await client.get(url, headers=other_agent.headers)).status_code == 404
    assert (await client.get(SUBSCRIPTIONS, headers=other_agent.headers)).json()["items"] == []
    refused = await client.patch(
        url, json={"enabled": False}, headers={**other_agent.headers, "If-Match": "*"}
    )
    assert refused.status_code == 404

    read = await client.get(url, headers=agent.headers)
    stale = read.headers["etag"]
    changed = await client.patch(
        url,
        json={"event_types": ["*"], "enabled": False},
        headers={**agent.headers, "If-Match": stale},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["event_types"] == ["*"]
    assert changed.json()["enabled"] is False
    assert changed.json()["disabled_reason"] == "manual"
    assert changed.headers["etag"] != stale
    again = await client.patch(
        url, json={"enabled": True}, headers={**agent.headers, "If-Match": stale}
    )
    assert again.status_code == 412
    blind = await client.patch(url, json={"enabled": True}, headers=agent.headers)
    assert blind.status_code == 428

    rotated = await client.post(f"{url}/secret", headers=bearer(api))
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != created["secret"]
    assert (await client.get(url, headers=agent.headers)).json()["previous_secret_expires_at"]

    assert (await client.delete(url, headers=other_agent.headers)).status_code == 404
    assert (await client.delete(url, headers=admin.headers)).status_code == 204
    assert (await client.get(url, headers=agent.headers)).status_code == 404


async def test_a_person_subscribes_a_client_they_manage(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    other_agent = await user_login(client, runtime, Role.AGENT)
    api = await register_client(client, admin, agent)

    needs_client = await client.post(SUBSCRIPTIONS, json=_subscription(), headers=agent.headers)
    assert needs_client.status_code == 422
    assert needs_client.json()["code"] == "webhook.client_required"
    not_theirs = await client.post(
        SUBSCRIPTIONS, json=_subscription(client_id=api["id"]), headers=other_agent.headers
    )
    assert not_theirs.status_code == 422
    assert not_theirs.json()["code"] == "webhook.unknown_client"
    for who in (agent, admin):
        made = await client.post(
            SUBSCRIPTIONS, json=_subscription(client_id=api["id"]), headers=who.headers
        )
        assert made.status_code == 201, made.text
        assert made.json()["client_id"] == api["id"]
    listed = await client.get(
        SUBSCRIPTIONS, params={"client_id": api["id"], "limit": 1}, headers=agent.headers
    )
    assert len(listed.json()["items"]) == 1
    rest = await client.get(
        SUBSCRIPTIONS, params={"cursor": listed.json()["next_cursor"]}, headers=agent.headers
    )
    assert len(rest.json()["items"]) == 1
    assert rest.json()["next_cursor"] is None


async def test_a_retried_creation_answers_the_same_subscription_and_secret(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    api = await register_client(client, admin, agent)
    headers = {**bearer(api), "Idempotency-Key": "subscribe-1"}
    first = await client.post(SUBSCRIPTIONS, json=_subscription(), headers=headers)
    second = await client.post(SUBSCRIPTIONS, json=_subscription(), headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["secret"] == first.json()["secret"]


async def test_bad_subscriptions_are_problems_and_nothing_is_kept(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    customer_login = await user_login(client, runtime, Role.CUSTOMER)
    api = await register_client(client, admin, agent)
    deaf = await register_client(client, admin, agent, scopes=["webhooks:manage"])
    before = await _count(session)
    cases: list[tuple[dict[str, Any], str]] = [
        (_subscription(url="http://10.0.0.7/hook"), "webhook.url_refused"),
        (_subscription(url="http://169.254.169.254/latest/meta-data"), "webhook.url_refused"),
        (_subscription(url="http://[::ffff:192.168.1.1]/"), "webhook.url_refused"),
        (_subscription(url="http://0.0.0.0:8080/"), "webhook.url_refused"),
        # IPv6 forms leading to IPv4 inside: NAT64, local-use NAT64, 6to4, IPv4-compatible,
        # IPv4-translated; and the deprecated site-local range.
        *(
            (_subscription(url=f"https://[{address}]/"), "webhook.url_refused")
            for address in (
                "64:ff9b::a9fe:a9fe",
                "64:ff9b::a00:1",
                "64:ff9b:1::a00:1",
                "2002:a9fe:a9fe::1",
                "::a9fe:a9fe",
                "::ffff:0:a00:1",
                "fec0::1",
            )
        ),
        (_subscription(url="ftp://hooks.example.com/"), "webhook.url_refused"),
        (_subscription(url="https://user:pw@hooks.example.com/"), "webhook.url_refused"),
        (_subscription(url="https://name.invalid/hook"), "webhook.url_refused"),
        (_subscription(url="not a url"), "webhook.url_refused"),
        (_subscription(event_types=["Policy Bound"]), "request.invalid"),
        (_subscription(event_types=["policy.*.bound"]), "request.invalid"),
        (_subscription(event_types=[]), "request.invalid"),
        (_subscription(secret="whsec_mine"), "request.invalid"),
        (_subscription(client_id=deaf["id"]), "webhook.unknown_client"),
    ]
    for body, code in cases:
        response = await client.post(SUBSCRIPTIONS, json=body, headers=bearer(api))
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code, (body, response.json())
    cannot_read = await client.post(SUBSCRIPTIONS, json=_subscription(), headers=bearer(deaf))
    assert cannot_read.status_code == 422
    assert cannot_read.json()["code"] == "webhook.client_cannot_read_events"
    forbidden = await client.post(
        SUBSCRIPTIONS, json=_subscription(), headers=customer_login.headers
    )
    assert forbidden.status_code == 403
    assert await _count(session) == before

    made = await client.post(SUBSCRIPTIONS, json=_subscription(), headers=bearer(api))
    url = f"{SUBSCRIPTIONS}/{made.json()['id']}"
    moved = await client.patch(
        url,
        json={"url": "http://192.168.0.10/hook"},
        headers={**bearer(api), "If-Match": made.headers["etag"]},
    )
    assert moved.status_code == 422
    assert moved.json()["errors"][0]["pointer"] == "#/url"
    assert (await client.get(url, headers=bearer(api))).json()["url"] == made.json()["url"]
    future = await client.post(
        f"{url}/replay", json={"since": "2999-01-01T00:00:00Z"}, headers=bearer(api)
    )
    assert future.status_code == 422
    naive = await client.post(
        f"{url}/replay", json={"since": "2026-01-01T00:00"}, headers=bearer(api)
    )
    assert naive.status_code == 422
    for moment in (
        "0001-01-01T00:00:00+14:00",
        "1899-12-31T23:59:59Z",
        "9999-12-31T23:59:59-14:00",
    ):
        out_of_range = await client.post(
            f"{url}/replay", json={"since": moment}, headers=bearer(api)
        )
        assert out_of_range.status_code == 422, (moment, out_of_range.text)
        assert out_of_range.json()["errors"][0]["pointer"] == "#/since"
    unknown = await client.get(f"{url}/deliveries/{made.json()['id']}", headers=bearer(api))
    assert unknown.status_code == 404


async def test_a_client_has_at_most_twenty_subscriptions(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    api = await register_client(client, admin, agent)
    other = await register_client(client, admin, agent)
    made = []
    for n in range(MAX_SUBSCRIPTIONS_PER_CLIENT):
        response = await client.post(
            SUBSCRIPTIONS, json=_subscription(url=f"http://127.0.0.1:9/{n}"), headers=bearer(api)
        )
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    one_more = await client.post(SUBSCRIPTIONS, json=_subscription(), headers=bearer(api))
    assert one_more.status_code == 409, one_more.text
    assert one_more.json()["code"] == "webhook.too_many_subscriptions"
    by_owner = await client.post(
        SUBSCRIPTIONS, json=_subscription(client_id=api["id"]), headers=agent.headers
    )
    assert by_owner.status_code == 409
    # Another client of the same owner has its own twenty; a deletion frees a place.
    assert (
        await client.post(SUBSCRIPTIONS, json=_subscription(), headers=bearer(other))
    ).status_code == 201
    deleted = await client.delete(f"{SUBSCRIPTIONS}/{made[0]}", headers=bearer(api))
    assert deleted.status_code == 204
    again = await client.post(SUBSCRIPTIONS, json=_subscription(), headers=bearer(api))
    assert again.status_code == 201, again.text
