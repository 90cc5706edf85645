"""What an app the user authorized (an OAuth authorization's token) may not do, and how an
authorization ends: security review M1, M2, S1, S6, S7."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Role
from tests.oauth_support import (  # noqa: F401 (the *_fixture are pytest fixtures)
    TOKEN,
    admin_fixture,
    app_client_fixture,
    bearer,
    code_for,
    redeem,
    refresh_form,
    register,
    settings_fixture,
    verified_user,
    web_fixture,
)


async def _authorized(
    web: AsyncClient, client: dict[str, Any], email: str, scope: str
) -> dict[str, Any]:
    code, verifier = await code_for(web, client, email, scope=scope)
    response = await redeem(web, client, code, verifier)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _headers(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_an_apps_token_mints_no_api_key(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any]
) -> None:
    _, email = await verified_user(runtime, Role.AGENT)
    app = _headers(await _authorized(web, app_client, email, "openid"))
    assert (await web.get("/api/v1/users/me", headers=app)).json()["permissions"] == []
    minted = await web.post(
        "/api/v1/api-keys",
        json={"name": "exfil", "scopes": ["customers:read", "quotes:read"]},
        headers=app,
    )
    assert minted.status_code == 403, minted.text
    assert minted.json()["code"] == "api_key.person_required"
    person = await bearer(web, email)
    made = await web.post(
        "/api/v1/api-keys", json={"name": "mine", "scopes": ["quotes:read"]}, headers=person
    )
    assert made.status_code == 201, made.text
    rotated = await web.post(f"/api/v1/api-keys/{made.json()['id']}/rotation", json={}, headers=app)
    assert rotated.status_code == 403
    revoked = await web.post(f"/api/v1/api-keys/{made.json()['id']}/revocation", headers=app)
    assert revoked.status_code == 403
    assert revoked.json()["code"] == "auth.person_session_required"


async def test_an_apps_token_manages_no_account_security(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any]
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    app = _headers(await _authorized(web, app_client, email, "openid profile quotes:read"))
    person = await bearer(web, email)
    sessions = (await web.get("/api/v1/account/sessions", headers=person)).json()["items"]
    for method, path, body in (
        ("GET", "/api/v1/account/sessions", None),
        ("DELETE", f"/api/v1/account/sessions/{sessions[0]['id']}", None),
        ("GET", "/api/v1/account/mfa", None),
        ("POST", "/api/v1/account/mfa/totp", None),
        ("POST", "/api/v1/account/mfa/totp/confirmation", {"otp": "123456"}),
        ("POST", "/api/v1/account/mfa/webauthn/registration-options", None),
        ("POST", "/api/v1/account/email", {"current_password": "x", "new_email": "a@b.co"}),
    ):
        refused = await web.request(method, path, json=body, headers=app)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["code"] == "auth.person_session_required"
    assert (await web.get("/api/v1/users/me", headers=person)).status_code == 200
    assert (await web.get("/api/v1/users/me", headers=app)).status_code == 200


async def test_revoking_the_client_ends_its_authorizations_at_once(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any], admin: dict[str, str]
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    tokens = await _authorized(web, app_client, email, "openid quotes:read")
    assert (await web.get("/api/v1/users/me", headers=_headers(tokens))).status_code == 200
    revoked = await web.post(f"/api/v1/api-clients/{app_client['id']}/revocation", headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert (await web.get("/api/v1/users/me", headers=_headers(tokens))).status_code == 401


async def test_deactivating_the_clients_owner_ends_its_authorizations(
    web: AsyncClient, runtime: Any, admin: dict[str, str], session: AsyncSession
) -> None:
    owner, _ = await verified_user(runtime, Role.AGENT)
    app_client = await register(web, admin, owner)
    _, email = await verified_user(runtime, Role.CUSTOMER)
    tokens = await _authorized(web, app_client, email, "openid quotes:read")
    assert (await web.get("/api/v1/users/me", headers=_headers(tokens))).status_code == 200
    ended = await web.post(f"/api/v1/users/{owner}/deactivation", headers=admin)
    assert ended.status_code == 200, ended.text
    assert (await web.get("/api/v1/users/me", headers=_headers(tokens))).status_code == 401
    reasons = (
        await session.scalars(
            text("SELECT reason FROM oauth_token_log WHERE client_id = :c AND event = 'revoked'"),
            {"c": app_client["id"]},
        )
    ).all()
    assert reasons == ["client_owner_deactivated"]


async def test_revoking_a_client_credentials_token_is_unsupported(
    web: AsyncClient, runtime: Any, admin: dict[str, str]
) -> None:
    owner, _ = await verified_user(runtime, Role.AGENT)
    machine = await register(
        web,
        admin,
        owner,
        grant_types=["client_credentials"],
        redirect_uris=[],
        scopes=["quotes:read"],
    )
    form = {"client_id": machine["id"], "client_secret": machine["client_secret"]}
    issued = await web.post(TOKEN, data={"grant_type": "client_credentials", **form})
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    refused = await web.post("/api/v1/oauth/revoke", data={"token": token, **form})
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "unsupported_token_type"


async def test_a_refresh_within_the_grace_period_is_logged_as_suspected_reuse(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any], session: AsyncSession
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    first = await _authorized(web, app_client, email, "openid quotes:read")
    form = refresh_form(app_client, first["refresh_token"])
    won = await web.post(TOKEN, data=form)
    assert won.status_code == 200, won.text
    again = await web.post(TOKEN, data=form)  # the immediately previous token, at once
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    # The authorization is kept (the winner's tokens work) but the suspicion is on record.
    assert (await web.get("/api/v1/users/me", headers=_headers(won.json()))).status_code == 200
    log = (
        await session.execute(
            text("SELECT event, reason, session_id FROM oauth_token_log WHERE client_id = :c"),
            {"c": app_client["id"]},
        )
    ).all()
    suspected = [r for r in log if r.reason == "reuse_suspected"]
    assert [r.event for r in suspected] == ["reuse_detected"]
    audited = await session.scalar(
        text(
            "SELECT count(*) FROM audit_log WHERE action = 'auth.refresh_reuse_suspected' "
            "AND resource_id = :s"
        ),
        {"s": str(suspected[0].session_id)},
    )
    assert audited == 1
