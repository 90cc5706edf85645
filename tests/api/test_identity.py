"""Login, refresh rotation with reuse detection, logout, throttling, staff management."""

from __future__ import annotations

from datetime import timedelta

from httpx import AsyncClient

from pd_prime_demo.core import clock
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
    from pd_prime_demo.core.crypto import TokenSigner
    from pd_prime_demo.core.keys import generate_key_material

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

    # Past the grace period a client's parallel refresh gets (see below), a replay is reuse.
    later = clock.now() + timedelta(seconds=runtime.settings.refresh_reuse_grace_seconds + 1)
    with clock.frozen_at(later):
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
    """From the address that failed; other addresses are not (tests/api/test_login_throttle)."""
    email = "throttle.me@example.com"
    await create_user(runtime, Role.AGENT, email=email)
    for _ in range(runtime.settings.login_free_failures + 1):
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


# --- Refresh races and revocation (RFC 9700 section 4.14.2, RFC 7009) ---


async def _refresh(client: AsyncClient, refresh_token: str) -> tuple[int, dict[str, str]]:
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
    )
    return response.status_code, response.json()


async def _me_status(client: AsyncClient, access_token: str) -> int:
    response = await client.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {access_token}"}
    )
    return response.status_code


async def test_the_token_just_rotated_is_refused_without_ending_the_session(
    client: AsyncClient, runtime: Runtime
) -> None:
    """The hole: the loser of a client's parallel refreshes logged the winner out."""
    agent = await user_login(client, runtime, Role.AGENT)
    status, winner = await _refresh(client, agent.refresh_token)
    assert status == 200
    status, loser = await _refresh(client, agent.refresh_token)
    assert status == 401
    assert loser["code"] == "auth.refresh_token_superseded"
    # The winner's tokens still work, and so does the session's access token from before.
    assert await _me_status(client, winner["access_token"]) == 200
    assert await _me_status(client, agent.access_token) == 200
    status, next_pair = await _refresh(client, winner["refresh_token"])
    assert status == 200
    # Now the first token is two rotations old: presenting it is reuse, grace or not.
    status, reuse = await _refresh(client, agent.refresh_token)
    assert status == 401
    assert reuse["code"] == "auth.refresh_token_reused"
    assert await _me_status(client, next_pair["access_token"]) == 401
    assert (await _refresh(client, next_pair["refresh_token"]))[0] == 401


async def test_no_grace_period_makes_every_replay_reuse(
    client: AsyncClient, runtime: Runtime
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"refresh_reuse_grace_seconds": 0})
    agent = await user_login(client, runtime, Role.AGENT)
    status, winner = await _refresh(client, agent.refresh_token)
    assert status == 200
    status, replay = await _refresh(client, agent.refresh_token)
    assert (status, replay["code"]) == (401, "auth.refresh_token_reused")
    assert await _me_status(client, winner["access_token"]) == 401


async def test_revoking_an_access_token_ends_its_login_session(
    client: AsyncClient, runtime: Runtime
) -> None:
    """The hole: /auth/revoke refused access tokens (RFC 7009 accepts either kind)."""
    agent = await user_login(client, runtime, Role.AGENT)
    other = await login(client, agent.email)  # another session of the same user
    response = await client.post(
        "/api/v1/auth/revoke",
        data={"token": agent.access_token, "token_type_hint": "access_token"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert await _me_status(client, agent.access_token) == 401
    assert (await _refresh(client, agent.refresh_token))[0] == 401
    assert await _me_status(client, other["access_token"]) == 200, "only that session ends"
    # The hint is only a hint: a refresh token sent as "access_token" is still revoked.
    hinted = await client.post(
        "/api/v1/auth/revoke",
        data={"token": other["refresh_token"], "token_type_hint": "access_token"},
    )
    assert hinted.status_code == 200
    assert await _me_status(client, other["access_token"]) == 401


async def test_revoking_unknown_expired_or_foreign_tokens_is_200_and_changes_nothing(
    client: AsyncClient, runtime: Runtime
) -> None:
    from pd_prime_demo.core.crypto import TokenSigner
    from pd_prime_demo.core.keys import generate_key_material

    agent = await user_login(client, runtime, Role.AGENT)
    keys = generate_key_material()
    foreign = TokenSigner(keys.jwt_keys, keys.jwt_active_kid)
    claims = runtime.signer.verify(agent.access_token)
    assert claims is not None
    forged = foreign.sign(dict(claims.claims))
    with clock.frozen_at(clock.now() + timedelta(hours=2)):  # the access token has expired
        expired = await client.post("/api/v1/auth/revoke", data={"token": agent.access_token})
    for token in ("nope", "a.b.c", forged):
        answer = await client.post("/api/v1/auth/revoke", data={"token": token})
        assert answer.status_code == 200, (token, answer.text)
    assert expired.status_code == 200
    assert await _me_status(client, agent.access_token) == 200, "the session is untouched"


async def test_an_api_clients_token_is_not_revoked_here(
    client: AsyncClient, runtime: Runtime
) -> None:
    """Client credentials tokens have no login session; ending the client is the admin's
    revocation route, so RFC 7009's unsupported_token_type answers, and nothing changes."""
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    registered = await client.post(
        "/api/v1/api-clients",
        json={"name": "Rater", "owner_id": str(agent.user_id), "scopes": ["products:read"]},
        headers=admin.headers,
    )
    assert registered.status_code == 201, registered.text
    token = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": registered.json()["id"],
            "client_secret": registered.json()["client_secret"],
        },
    )
    access = token.json()["access_token"]
    answer = await client.post("/api/v1/auth/revoke", data={"token": access})
    assert answer.status_code == 422
    assert answer.json()["code"] == "auth.unsupported_token_type"
    assert await _me_status(client, access) == 200
