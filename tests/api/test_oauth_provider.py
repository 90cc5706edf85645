"""The OAuth 2.1 authorization code grant with PKCE, as a user and a client go through it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from httpx import AsyncClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from tests.oauth_support import (  # noqa: F401 (the *_fixture are pytest fixtures)
    AUTHORIZE,
    ISSUER,
    REDIRECT,
    TOKEN,
    admin_fixture,
    app_client_fixture,
    authorization_params,
    code_for,
    consent,
    hidden_fields,
    new_client,
    pkce_pair,
    redeem,
    redirect_query,
    refresh_form,
    settings_fixture,
    verified_user,
    web_fixture,
)


async def _session_token_log(session: AsyncSession, client_id: str) -> list[tuple[str, str]]:
    rows = await session.execute(
        text("SELECT event, grant_type FROM oauth_token_log WHERE client_id = :c ORDER BY id"),
        {"c": client_id},
    )
    return [(r.event, r.grant_type) for r in rows]


async def test_code_flow_with_pkce_gives_tokens_an_id_token_and_userinfo(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any], session: AsyncSession
) -> None:
    user_id, email = await verified_user(runtime, Role.CUSTOMER)
    verifier, challenge = pkce_pair()
    params = authorization_params(app_client, challenge)
    page = await web.get(AUTHORIZE, params=params)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text
    assert "Policy app" in page.text
    assert "quotes:read" in page.text
    assert page.headers["cache-control"] == "no-store"

    query = redirect_query(await consent(web, params, email=email))
    assert query["state"] == params["state"]
    assert query["iss"] == ISSUER  # RFC 9207
    stored = await session.scalar(text("SELECT count(*) FROM oauth_authorization_codes"))
    assert stored == 1
    assert (
        await session.scalar(
            text("SELECT count(*) FROM oauth_authorization_codes WHERE code_hash = :c"),
            {"c": query["code"]},
        )
        == 0
    )  # a digest, not the code

    response = await redeem(web, app_client, query["code"], verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "email openid profile quotes:read"
    assert tokens["refresh_token"]

    jwks = KeySet.import_key_set((await web.get("/api/v1/auth/jwks.json")).json())
    # A client that registered no algorithm gets RS256 (OIDC Core §15.1, the registration
    # default of OIDC Dynamic Client Registration §2).
    assert app_client["id_token_signed_response_alg"] == "RS256"
    decoded = jwt.decode(tokens["id_token"], jwks, algorithms=["RS256"])
    assert decoded.header["typ"] == "JWT"
    assert decoded.header["kid"] == runtime.signer.rsa_active_kid
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {
            "iss": {"essential": True, "value": ISSUER},
            "aud": {"essential": True, "value": app_client["id"]},
            "nonce": {"value": params["nonce"]},
        },
        {"access_token": tokens["access_token"], "nonce": params["nonce"]},
    )
    claims.validate(now=int(clock.now().timestamp()))  # at_hash, nonce, auth_time, exp, aud
    assert claims["sub"] == str(user_id)
    assert claims["amr"] == ["pwd"]
    assert claims["email"] == email

    # The ID token is not an access token.
    as_bearer = {"Authorization": f"Bearer {tokens['id_token']}"}
    assert (await web.get("/api/v1/users/me", headers=as_bearer)).status_code == 401

    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = await web.get("/api/v1/oauth/userinfo", headers=headers)
    assert info.status_code == 200, info.text
    body = info.json()
    assert body == {
        "sub": str(user_id),
        "name": "Test Customer",
        "updated_at": body["updated_at"],
        "email": email,
        "email_verified": True,
    }
    # The token holds only the consented permission: quotes:read, not the customer's others.
    assert (await web.get("/api/v1/quotes", headers=headers)).status_code == 200
    me = (await web.get("/api/v1/users/me", headers=headers)).json()
    assert me["permissions"] == ["quotes:read"]
    assert await _session_token_log(session, app_client["id"]) == [("issued", "authorization_code")]


async def test_the_user_is_asked_again_unless_signed_in_and_a_wrong_password_gets_no_code(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any]
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    _, challenge = pkce_pair()
    params = authorization_params(app_client, challenge)
    wrong = await consent(web, params, email=email, password="not the passphrase at all")
    assert wrong.status_code == 401
    assert "e-mail or password is wrong" in wrong.text
    assert "location" not in wrong.headers
    # Signed in now: the next authorization asks for consent only.
    redirect_query(await consent(web, params, email=email))
    again = await web.get(AUTHORIZE, params=params)
    assert 'name="password"' not in again.text
    assert "You are signed in" in again.text
    redirect_query(await consent(web, params, email=None))


async def test_pkce_is_required_and_plain_is_refused(
    web: AsyncClient, app_client: dict[str, Any]
) -> None:
    verifier, challenge = pkce_pair()
    for overrides in (
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge_method": "plain", "code_challenge": verifier},
        {"code_challenge_method": None},
    ):
        params = authorization_params(app_client, challenge, **overrides)
        refused = await web.get(AUTHORIZE, params=params)
        query = redirect_query(refused)
        assert query["error"] == "invalid_request", overrides
        assert query["state"] == params["state"]
        assert "code" not in query


async def test_a_code_needs_its_verifier_redirect_uri_and_client(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any], admin: dict[str, str]
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    code, verifier = await code_for(web, app_client, email)
    other_verifier, _ = pkce_pair()
    other_client = await new_client(web, runtime, admin)
    for attempt in (
        await redeem(web, app_client, code, None),
        await redeem(web, app_client, code, other_verifier),
        await redeem(web, app_client, code, verifier, redirect_uri=REDIRECT + "/x"),
        await redeem(web, other_client, code, verifier),
    ):
        assert attempt.status_code == 400, attempt.text
        assert attempt.json()["error"] == "invalid_grant"
        assert attempt.headers["content-type"].startswith("application/problem+json")
    wrong_secret = await redeem(web, {**app_client, "client_secret": "nope"}, code, verifier)
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    # Registered for client_secret_post: the right secret by HTTP Basic is refused too.
    by_basic = await web.post(
        TOKEN,
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        | {"code_verifier": verifier},
        auth=(app_client["id"], app_client["client_secret"]),
    )
    assert by_basic.status_code == 401
    # A failed proof by the code's own client spent it: the right verifier comes too late.
    late = await redeem(web, app_client, code, verifier)
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"
    # Another client, or a client failing its own authentication, spends nobody's code.
    code, verifier = await code_for(web, app_client, email)
    assert (await redeem(web, other_client, code, verifier)).status_code == 400
    assert (
        await redeem(web, {**app_client, "client_secret": "no"}, code, verifier)
    ).status_code == 401
    assert (await redeem(web, app_client, code, verifier)).status_code == 200


@pytest.mark.parametrize("failure", ["no_verifier", "wrong_verifier", "wrong_redirect_uri"])
async def test_a_failed_proof_spends_the_code(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any], failure: str
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    code, verifier = await code_for(web, app_client, email)
    other_verifier, _ = pkce_pair()
    failed = await {
        "no_verifier": lambda: redeem(web, app_client, code, None),
        "wrong_verifier": lambda: redeem(web, app_client, code, other_verifier),
        "wrong_redirect_uri": lambda: redeem(
            web, app_client, code, verifier, redirect_uri=REDIRECT + "/x"
        ),
    }[failure]()
    assert failed.status_code == 400
    late = await redeem(web, app_client, code, verifier)
    assert late.status_code == 400, late.text
    assert late.json()["error"] == "invalid_grant"


async def test_a_second_redemption_fails_and_revokes_what_the_first_issued(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any], session: AsyncSession
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    code, verifier = await code_for(web, app_client, email)
    first = await redeem(web, app_client, code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await web.get("/api/v1/oauth/userinfo", headers=headers)).status_code == 200

    second = await redeem(web, app_client, code, verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert (await web.get("/api/v1/oauth/userinfo", headers=headers)).status_code == 401
    refreshed = await web.post(
        TOKEN,
        data=refresh_form(app_client, tokens["refresh_token"]),
    )
    assert refreshed.status_code == 400
    log = await _session_token_log(session, app_client["id"])
    assert log == [
        ("issued", "authorization_code"),
        ("code_replayed", "authorization_code"),
        ("revoked", None),
    ]


async def test_a_code_lives_sixty_seconds(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any]
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    code, verifier = await code_for(web, app_client, email)
    with clock.frozen_at(clock.now() + timedelta(seconds=61)):
        late = await redeem(web, app_client, code, verifier)
    assert late.status_code == 400
    assert late.json()["error"] == "invalid_grant"


async def test_an_unknown_client_or_redirect_uri_gets_a_page_never_a_redirect(
    web: AsyncClient, app_client: dict[str, Any]
) -> None:
    _, challenge = pkce_pair()
    for overrides in (
        {"client_id": "00000000-0000-0000-0000-000000000000"},
        {"client_id": "not-a-uuid"},
        {"redirect_uri": "https://evil.example.com/callback"},
        {"redirect_uri": REDIRECT + "?extra=1"},
        {"redirect_uri": REDIRECT + "/"},
        {"redirect_uri": REDIRECT.upper()},
    ):
        page = await web.get(
            AUTHORIZE, params=authorization_params(app_client, challenge, **overrides)
        )
        assert page.status_code == 400, overrides
        assert "location" not in page.headers
        assert page.headers["content-type"].startswith("text/html")
    duplicated = [("client_id", app_client["id"]), ("client_id", app_client["id"])]
    page = await web.get(AUTHORIZE, params=duplicated)
    assert page.status_code == 400


async def test_errors_after_the_redirect_uri_is_known_go_back_to_the_client(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any]
) -> None:
    _, challenge = pkce_pair()
    for overrides, error in (
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "openid products:manage"}, "invalid_scope"),
        ({"scope": ""}, "invalid_scope"),
        ({"prompt": "none"}, "consent_required"),
    ):
        params = authorization_params(app_client, challenge, **overrides)
        query = redirect_query(await web.get(AUTHORIZE, params=params))
        assert query["error"] == error
        assert query["state"] == params["state"]
    _, email = await verified_user(runtime, Role.CUSTOMER)
    params = authorization_params(app_client, challenge)
    denied = redirect_query(await consent(web, params, email=email, decision="deny"))
    assert denied["error"] == "access_denied"
    assert "code" not in denied


async def test_the_form_needs_its_csrf_token(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any]
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    _, challenge = pkce_pair()
    params = authorization_params(app_client, challenge)
    page = await web.get(AUTHORIZE, params=params)
    form = hidden_fields(page.text) | {"decision": "allow", "email": email, "password": "x"}
    forged = {**form, "csrf_token": "guessed"}
    response = await web.post(AUTHORIZE, data=forged)
    assert response.status_code == 400
    assert "location" not in response.headers
    web.cookies.clear()  # a cross-site post carries no cookie (SameSite=Strict)
    response = await web.post(AUTHORIZE, data=form)
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_refresh_rotates_and_reuse_revokes_the_authorization(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any], session: AsyncSession
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    code, verifier = await code_for(web, app_client, email)
    first = (await redeem(web, app_client, code, verifier)).json()

    rotated = await web.post(TOKEN, data=refresh_form(app_client, first["refresh_token"]))
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == first["scope"]
    headers = {"Authorization": f"Bearer {second['access_token']}"}
    me = (await web.get("/api/v1/users/me", headers=headers)).json()
    assert me["permissions"] == ["quotes:read"]  # the refreshed token keeps the narrow scope
    # An older token again: the authorization ends (a grace period, if any, covers only the
    # immediately previous token, and that is no older one).
    third = (await web.post(TOKEN, data=refresh_form(app_client, second["refresh_token"]))).json()
    reused = await web.post(TOKEN, data=refresh_form(app_client, first["refresh_token"]))
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    late = await web.post(TOKEN, data=refresh_form(app_client, third["refresh_token"]))
    assert late.status_code == 400
    log = await _session_token_log(session, app_client["id"])
    assert ("reuse_detected", "refresh_token") in log
    assert log.count(("refreshed", "refresh_token")) == 2


async def test_a_refresh_token_is_its_clients_alone(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any], admin: dict[str, str]
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    code, verifier = await code_for(web, app_client, email)
    tokens = (await redeem(web, app_client, code, verifier)).json()
    other = await new_client(web, runtime, admin)
    stolen = await web.post(
        TOKEN,
        data=refresh_form(other, tokens["refresh_token"]),
    )
    assert stolen.status_code == 400
    # Nor does the password grant's refresh accept it (no client authentication there).
    plain = await web.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert plain.status_code == 401
    # The rightful client still refreshes: neither attempt counted as reuse.
    good = await web.post(
        TOKEN,
        data=refresh_form(app_client, tokens["refresh_token"]),
    )
    assert good.status_code == 200, good.text


async def test_an_authorization_ends_at_its_absolute_lifetime(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any]
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    code, verifier = await code_for(web, app_client, email)
    tokens = (await redeem(web, app_client, code, verifier)).json()
    refresh = tokens["refresh_token"]
    lifetime = runtime.settings.oauth_authorization_ttl_seconds
    idle = getattr(runtime.settings, "session_idle_seconds", lifetime)  # refresh tokens idle out
    step = timedelta(seconds=min(lifetime // 4, idle // 2))
    started = moment = clock.now()
    refused_at = None
    for _ in range(200):
        moment += step
        with clock.frozen_at(moment):
            response = await web.post(
                TOKEN,
                data=refresh_form(app_client, refresh),
            )
        if response.status_code != 200:
            refused_at = moment
            break
        refresh = response.json()["refresh_token"]
    assert refused_at is not None
    assert (refused_at - started).total_seconds() >= lifetime
    assert (refused_at - started).total_seconds() <= lifetime + step.total_seconds()


async def test_a_public_client_uses_pkce_alone_and_may_not_send_a_secret(
    web: AsyncClient, runtime: Any, admin: dict[str, str]
) -> None:
    public = await new_client(web, runtime, admin, client_type="public")
    assert public["client_secret"] is None
    assert public["token_endpoint_auth_method"] == "none"
    _, email = await verified_user(runtime, Role.CUSTOMER)
    code, verifier = await code_for(web, public, email)
    with_secret = await redeem(web, public, code, verifier, client_secret="made-up")
    assert with_secret.status_code == 401
    response = await redeem(web, public, code, verifier)
    assert response.status_code == 200, response.text


async def test_registration_rules(web: AsyncClient, runtime: Any, admin: dict[str, str]) -> None:
    owner, _ = await verified_user(runtime, Role.AGENT)
    base: dict[str, Any] = {
        "name": "x",
        "owner_id": str(owner),
        "scopes": ["openid", "quotes:read"],
        "grant_types": ["authorization_code"],
        "redirect_uris": [REDIRECT],
    }
    cases: list[dict[str, Any]] = [
        {"redirect_uris": ["http://app.example.com/cb"]},
        {"redirect_uris": [REDIRECT + "#x"]},
        {"redirect_uris": []},
        {"client_type": "public", "grant_types": ["client_credentials"], "redirect_uris": []},
        {"client_type": "public", "token_endpoint_auth_method": "client_secret_basic"},
        {"token_endpoint_auth_method": "none"},
        {"grant_types": ["client_credentials"], "scopes": ["openid"], "redirect_uris": []},
        {"grant_types": ["refresh_token"]},
    ]
    for overrides in cases:
        response = await web.post("/api/v1/api-clients", json=base | overrides, headers=admin)
        assert response.status_code == 422, overrides
        assert response.json()["code"] == "api_client.invalid_metadata", response.text


async def test_a_code_grant_client_cannot_use_client_credentials_nor_the_reverse(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any], admin: dict[str, str]
) -> None:
    denied = await web.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": app_client["id"],
            "client_secret": app_client["client_secret"],
        },
    )
    assert denied.status_code == 400
    assert denied.json()["error"] == "unauthorized_client"
    owner, _ = await verified_user(runtime, Role.AGENT)
    machine = (
        await web.post(
            "/api/v1/api-clients",
            json={"name": "m", "owner_id": str(owner), "scopes": ["quotes:read"]},
            headers=admin,
        )
    ).json()
    as_form = {"client_id": machine["id"], "client_secret": machine["client_secret"]}
    # Registered for HTTP Basic (the default): the secret in the form is refused.
    in_form = await web.post(TOKEN, data={"grant_type": "client_credentials", **as_form})
    assert in_form.status_code == 401
    assert in_form.json()["error"] == "invalid_client"
    basic = (machine["id"], machine["client_secret"])
    token = await web.post(TOKEN, data={"grant_type": "client_credentials"}, auth=basic)
    assert token.status_code == 200, token.text
    assert "refresh_token" not in token.json()
    _, challenge = pkce_pair()
    page = await web.get(AUTHORIZE, params=authorization_params(machine, challenge))
    assert page.status_code == 400  # not a client that may ask users
    unsupported = await web.post(TOKEN, data={"grant_type": "password"}, auth=basic)
    assert unsupported.status_code == 400
    assert unsupported.json()["error"] == "unsupported_grant_type"
