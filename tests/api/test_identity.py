"""Login, refresh rotation with reuse detection, logout, throttling, staff management."""

from __future__ import annotations

from httpx import AsyncClient

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from tests.factories import PASSWORD, create_user, login, user_login


async def test_login_issues_signed_token_with_kid(client: AsyncClient, runtime: Runtime) -> None:
    email = "uw.one@example.com"
    await create_user(runtime, Role.UNDERWRITER, email=email)
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email.upper(), "password": PASSWORD},
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    verified = runtime.signer.verify(tokens["access_token"])
    assert verified is not None
    assert verified.header["kid"] == runtime.signer.active_kid
    me = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["role"] == "underwriter"
    assert "pii:read" in me.json()["permissions"]


async def test_wrong_password_is_401_with_challenge(client: AsyncClient, runtime: Runtime) -> None:
    await create_user(runtime, Role.AGENT, email="agent.x@example.com")
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "agent.x@example.com", "password": "nope"},
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == "auth.invalid_credentials"
    unknown = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "ghost@example.com", "password": "nope"},
    )
    assert unknown.json()["code"] == "auth.invalid_credentials", "no account enumeration"


async def test_missing_and_bad_tokens_are_401(client: AsyncClient, runtime: Runtime) -> None:
    none = await client.get("/api/v1/users/me")
    assert none.status_code == 401
    assert "Bearer" in none.headers["www-authenticate"]
    bad = await client.get("/api/v1/users/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    # A token signed by a key the server does not hold is refused.
    from pd_prime_demo.core.crypto import TokenSigner, generate_key_material

    material = generate_key_material()
    foreign = TokenSigner(material.jwt_keys, material.jwt_active_kid).sign(
        {"sub": "x", "sid": "y", "exp": 9999999999, "iss": "pd-prime", "aud": "pd-prime-api"}
    )
    forged = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {foreign}"})
    assert forged.status_code == 401


async def test_expired_token_is_rejected(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    from datetime import UTC, datetime, timedelta

    from pd_prime_demo.core.clock import frozen_at

    # Used once first, so its signature check is cached: expiry must still be enforced.
    assert (await client.get("/api/v1/users/me", headers=agent.headers)).status_code == 200
    with frozen_at(datetime.now(UTC) + timedelta(hours=1)):
        response = await client.get("/api/v1/users/me", headers=agent.headers)
    assert response.status_code == 401


async def test_missing_permission_is_403(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    response = await client.get("/api/v1/users", headers=agent.headers)
    assert response.status_code == 403
    assert response.json()["code"] == "auth.permission_missing"


async def test_refresh_rotates_and_reuse_revokes_the_session(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    first = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": agent.refresh_token},
    )
    assert first.status_code == 200
    rotated = first.json()
    assert rotated["refresh_token"] != agent.refresh_token
    new_headers = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert (await client.get("/api/v1/users/me", headers=new_headers)).status_code == 200

    replay = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": agent.refresh_token},
    )
    assert replay.status_code == 401
    assert replay.json()["code"] == "auth.refresh_token_reused"
    # The whole session is gone: the rotated refresh token and every access token die with it.
    after = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": rotated["refresh_token"]},
    )
    assert after.status_code == 401
    assert (await client.get("/api/v1/users/me", headers=new_headers)).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=agent.headers)).status_code == 401


async def test_unknown_refresh_token_is_401(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": "nope"}
    )
    assert response.status_code == 401
    missing = await client.post("/api/v1/auth/token", data={"grant_type": "refresh_token"})
    assert missing.status_code == 422


async def test_logout_ends_access_and_refresh(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    assert (await client.post("/api/v1/auth/logout", headers=agent.headers)).status_code == 204
    assert (await client.get("/api/v1/users/me", headers=agent.headers)).status_code == 401
    refresh = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": agent.refresh_token},
    )
    assert refresh.status_code == 401


async def test_revoke_endpoint_revokes_session(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    response = await client.post("/api/v1/auth/revoke", data={"token": agent.refresh_token})
    assert response.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=agent.headers)).status_code == 401
    unknown = await client.post("/api/v1/auth/revoke", data={"token": "unknown"})
    assert unknown.status_code == 200, "RFC 7009: unknown tokens are not an error"


async def test_repeated_failures_are_throttled(client: AsyncClient, runtime: Runtime) -> None:
    email = "throttle.me@example.com"
    await create_user(runtime, Role.AGENT, email=email)
    for _ in range(runtime.settings.login_max_failures):
        failed = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": email, "password": "wrong-password"},
        )
        assert failed.status_code == 401
    blocked = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": PASSWORD},
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


async def test_admin_creates_staff_and_they_can_log_in(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    body = {
        "email": "new.adjuster@example.com",
        "full_name": "New Adjuster",
        "role": "adjuster",
        "password": "another long passphrase",
    }
    created = await client.post("/api/v1/users", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    assert "password" not in created.text
    assert "hash" not in created.text
    assert created.headers["location"].endswith(created.json()["id"])
    tokens = await login(client, "new.adjuster@example.com", "another long passphrase")
    assert tokens["access_token"]
    duplicate = await client.post("/api/v1/users", json=body, headers=admin.headers)
    assert duplicate.status_code == 409
    listed = await client.get("/api/v1/users?role=adjuster", headers=admin.headers)
    assert created.json()["id"] in {u["id"] for u in listed.json()["items"]}
    one = await client.get(f"/api/v1/users/{created.json()['id']}", headers=admin.headers)
    assert one.json()["email"] == "new.adjuster@example.com"


async def test_staff_creation_rejects_weak_password_and_customer_role(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    weak = await client.post(
        "/api/v1/users",
        json={"email": "w@example.com", "full_name": "W", "role": "agent", "password": "short"},
        headers=admin.headers,
    )
    assert weak.status_code == 422
    assert weak.json()["errors"][0]["pointer"] == "#/password"
    customer_role = await client.post(
        "/api/v1/users",
        json={
            "email": "c@example.com",
            "full_name": "C",
            "role": "customer",
            "password": "long enough passphrase",
        },
        headers=admin.headers,
    )
    assert customer_role.status_code == 422


async def test_agent_cannot_create_users(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    response = await client.post(
        "/api/v1/users",
        json={"email": "x@example.com", "full_name": "X", "role": "admin", "password": "p" * 20},
        headers=agent.headers,
    )
    assert response.status_code == 403


async def test_deactivated_user_is_locked_out(client: AsyncClient, runtime: Runtime) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    response = await client.post(
        f"/api/v1/users/{agent.user_id}/deactivation", headers=admin.headers
    )
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert (await client.get("/api/v1/users/me", headers=agent.headers)).status_code == 401
    relogin = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": agent.email, "password": PASSWORD},
    )
    assert relogin.status_code == 401
    self_off = await client.post(
        f"/api/v1/users/{admin.user_id}/deactivation", headers=admin.headers
    )
    assert self_off.status_code == 409


async def test_jwks_publishes_public_key_only(client: AsyncClient, runtime: Runtime) -> None:
    keys = (await client.get("/api/v1/auth/jwks.json")).json()["keys"]
    assert keys[0]["kid"] == runtime.signer.active_kid
    assert "d" not in keys[0], "private part must never be published"
