"""API keys: prefixed, shown once, stored hashed, scoped, expiring, last-used time, rotation
with an overlap, revocation and the owner's deactivation ending them at once."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.core.result_types import Err
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import api_keys
from pd_prime_demo.identity.rules import token_digest
from tests.factories import Login, person, user_login

READING = ["customers:read", "policies:read"]


async def _create(
    client: AsyncClient, owner: Login, scopes: list[str] = READING, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/api-keys",
        json={"name": "Nightly export", "scopes": scopes, **extra},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    return dict(response.json())


def _bearer(key: dict[str, Any] | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key if isinstance(key, str) else key['key']}"}


async def test_a_key_is_prefixed_shown_once_and_stored_only_as_a_digest(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    created = await _create(client, agent)
    key = created["key"]
    assert key.startswith("pdp_live_")
    assert len(key) > 40
    assert created["prefix"] == key[: len(created["prefix"])]
    assert len(created["prefix"]) < 20, "the kept prefix is no secret"
    stored = (
        await session.execute(
            text("SELECT key_hash, prefix FROM api_keys WHERE id = :id"), {"id": created["id"]}
        )
    ).one()
    assert stored.key_hash == token_digest(key)
    dump = " ".join(str(v) for v in stored)
    assert key not in dump
    # Listed without the key.
    listed = await client.get("/api/v1/api-keys", headers=agent.headers)
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert "key" not in item
    assert item["prefix"] == created["prefix"]


async def test_a_key_acts_as_its_owner_narrowed_to_its_scopes(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    other = await user_login(client, runtime, Role.AGENT)
    mine = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    theirs = await client.post("/api/v1/customers", json=person(), headers=other.headers)
    assert mine.status_code == theirs.status_code == 201
    key = await _create(client, agent)
    me = await client.get("/api/v1/users/me", headers=_bearer(key))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == str(agent.user_id)
    assert sorted(me.json()["permissions"]) == READING
    # The owner's reach: their own customer, not another agent's (404, not 403).
    own = await client.get(f"/api/v1/customers/{mine.json()['id']}", headers=_bearer(key))
    assert own.status_code == 200
    foreign = await client.get(f"/api/v1/customers/{theirs.json()['id']}", headers=_bearer(key))
    assert foreign.status_code == 404
    # Outside its scopes: 403, although the owner could.
    write = await client.post("/api/v1/customers", json=person(), headers=_bearer(key))
    assert write.status_code == 403
    assert write.json()["code"] == "auth.permission_missing"


async def test_scopes_must_be_held_by_the_owner_and_only_staff_have_keys(
    client: AsyncClient, runtime: Runtime
) -> None:
    adjuster = await user_login(client, runtime, Role.ADJUSTER)
    refused = await client.post(
        "/api/v1/api-keys",
        json={"name": "x", "scopes": ["policies:read", "users:manage"]},
        headers=adjuster.headers,
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "api_key.scope_not_held"
    assert refused.json()["errors"][0]["pointer"] == "#/scopes/1"
    customer = await user_login(client, runtime, Role.CUSTOMER)
    staff_only = await client.post(
        "/api/v1/api-keys", json={"name": "x", "scopes": ["quotes:read"]}, headers=customer.headers
    )
    assert staff_only.status_code == 403
    assert staff_only.json()["code"] == "api_key.staff_only"
    too_long = await client.post(
        "/api/v1/api-keys",
        json={"name": "x", "scopes": ["policies:read"], "ttl_days": 3000},
        headers=adjuster.headers,
    )
    assert too_long.status_code == 422
    assert too_long.json()["code"] == "api_key.ttl_too_long"
    mass = await client.post(
        "/api/v1/api-keys",
        json={"name": "x", "scopes": ["policies:read"], "owner_id": str(customer.user_id)},
        headers=adjuster.headers,
    )
    assert mass.status_code == 422


async def test_a_key_cannot_mint_keys(client: AsyncClient, runtime: Runtime) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    key = await _create(client, admin, ["users:read", "users:manage"])
    minted = await client.post(
        "/api/v1/api-keys", json={"name": "y", "scopes": ["users:read"]}, headers=_bearer(key)
    )
    assert minted.status_code == 403
    assert minted.json()["code"] == "api_key.person_required"


async def test_a_key_expires(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    key = await _create(client, agent, ttl_days=2)
    assert (await client.get("/api/v1/users/me", headers=_bearer(key))).status_code == 200
    with clock.frozen_at(clock.now() + timedelta(days=2, seconds=1)):
        expired = await client.get("/api/v1/users/me", headers=_bearer(key))
    assert expired.status_code == 401
    assert expired.json()["code"] == "auth.invalid_api_key"
    assert "invalid_token" in expired.headers["www-authenticate"]


async def test_last_used_is_kept_to_the_minute(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    key = await _create(client, agent)
    assert key["last_used_at"] is None

    async def last_used() -> Any:
        return await session.scalar(
            text("SELECT last_used_at FROM api_keys WHERE id = :id"), {"id": key["id"]}
        )

    start = clock.now()
    with clock.frozen_at(start):
        assert (await client.get("/api/v1/users/me", headers=_bearer(key))).status_code == 200
    assert await last_used() == start
    with clock.frozen_at(start + timedelta(seconds=30)):
        await client.get("/api/v1/users/me", headers=_bearer(key))
    assert await last_used() == start, "not rewritten within the minute"
    later = start + timedelta(seconds=61)
    with clock.frozen_at(later):
        await client.get("/api/v1/users/me", headers=_bearer(key))
    assert await last_used() == later


async def test_rotation_issues_a_new_key_and_the_old_one_works_until_the_overlap_ends(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    old = await _create(client, agent)
    rotated = await client.post(
        f"/api/v1/api-keys/{old['id']}/rotation", json={"overlap_hours": 2}, headers=agent.headers
    )
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()
    assert new["key"] != old["key"]
    assert new["scopes"] == old["scopes"]
    assert new["previous"]["replaced_by_id"] == new["id"]
    for key in (old, new):
        assert (await client.get("/api/v1/users/me", headers=_bearer(key))).status_code == 200
    with clock.frozen_at(clock.now() + timedelta(hours=2, minutes=1)):
        assert (await client.get("/api/v1/users/me", headers=_bearer(old))).status_code == 401
        assert (await client.get("/api/v1/users/me", headers=_bearer(new))).status_code == 200
    # Rotated once: the newest key of the chain is the one to rotate.
    again = await client.post(
        f"/api/v1/api-keys/{old['id']}/rotation", json={}, headers=agent.headers
    )
    assert again.status_code == 422
    assert again.json()["code"] == "api_key.not_rotatable"


async def test_another_users_key_is_not_found_but_an_admin_lists_and_revokes_it(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    other = await user_login(client, runtime, Role.UNDERWRITER)
    admin = await user_login(client, runtime, Role.ADMIN)
    key = await _create(client, agent)
    for action in ("rotation", "revocation"):
        response = await client.post(
            f"/api/v1/api-keys/{key['id']}/{action}", json={}, headers=other.headers
        )
        assert response.status_code == 404, (action, response.text)
    assert (
        await client.get(f"/api/v1/api-keys?owner_id={agent.user_id}", headers=other.headers)
    ).json()["items"] == []
    listed = await client.get(f"/api/v1/api-keys?owner_id={agent.user_id}", headers=admin.headers)
    assert [k["id"] for k in listed.json()["items"]] == [key["id"]]
    revoked = await client.post(f"/api/v1/api-keys/{key['id']}/revocation", headers=admin.headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert (await client.get("/api/v1/users/me", headers=_bearer(key))).status_code == 401


async def test_revocation_and_the_owners_deactivation_end_a_key_at_once(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    first, second = await _create(client, agent), await _create(client, agent)
    revoked = await client.post(f"/api/v1/api-keys/{first['id']}/revocation", headers=agent.headers)
    assert revoked.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=_bearer(first))).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=_bearer(second))).status_code == 200
    deactivated = await client.post(
        f"/api/v1/users/{agent.user_id}/deactivation", headers=admin.headers
    )
    assert deactivated.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=_bearer(second))).status_code == 401


async def test_an_unknown_or_malformed_key_is_refused(client: AsyncClient) -> None:
    for token in ("pdp_live_", "pdp_live_" + "A" * 43, "pdp_live_x.y"):
        response = await client.get("/api/v1/users/me", headers=_bearer(token))
        assert response.status_code == 401, token


async def test_a_keys_scopes_are_checked_against_what_the_caller_holds_now(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    # A login narrowed to customers:read (as an app's token is): its role holds more, but a
    # key may hold only what the caller holds.
    narrowed = Actor.user(agent.user_id, Role.AGENT, frozenset({Permission.CUSTOMERS_READ}))
    async with runtime.db.unit_of_work() as session:
        made = await api_keys.create_key(
            session,
            runtime,
            name="wider",
            scopes=[Permission.CUSTOMERS_READ, Permission.POLICIES_READ],
            ttl_days=None,
            actor=narrowed,
        )
        assert isinstance(made, Err), made
        assert made.error.code == "api_key.scope_not_held"
        assert [i.pointer for i in made.error.errors] == ["#/scopes/1"]
        delegated = replace(narrowed, delegated_to=uuid.uuid4())
        refused = await api_keys.create_key(
            session,
            runtime,
            name="app",
            scopes=[Permission.CUSTOMERS_READ],
            ttl_days=None,
            actor=delegated,
        )
        assert isinstance(refused, Err)
        assert refused.error.code == "api_key.person_required"
