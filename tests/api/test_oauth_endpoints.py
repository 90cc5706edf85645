"""Discovery (RFC 8414, OIDC Discovery), JWKS key rotation, revocation (RFC 7009) and
introspection (RFC 7662) of the OAuth provider."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata  # type: ignore[import-untyped]
from authlib.oidc.discovery import OpenIDProviderMetadata  # type: ignore[import-untyped]
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.crypto import TokenSigner
from pd_prime_demo.core.keys import generate_key_material
from tests.conftest import KEYS, make_settings
from tests.oauth_support import (  # noqa: F401 (the *_fixture are pytest fixtures)
    ISSUER,
    TOKEN,
    admin_fixture,
    app_client_fixture,
    bearer,
    code_for,
    new_client,
    redeem,
    register,
    verified_user,
    web_fixture,
)

OLD_KEY = generate_key_material()
OLD_KID = OLD_KEY.jwt_active_kid
RETIRE_AT = clock.now() + timedelta(days=1)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # The suite's key signs; the previous one is retired a day from now.
    keys = json.loads(KEYS["PD_PRIME_JWT_KEYS"]) | OLD_KEY.jwt_keys
    return make_settings(
        database_url,
        oauth_issuer=ISSUER,
        jwt_keys=json.dumps(keys),
        jwt_key_retire_at={OLD_KID: RETIRE_AT.isoformat()},
    )


async def _tokens(web: AsyncClient, runtime: Any, client: dict[str, Any]) -> dict[str, Any]:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    code, verifier = await code_for(web, client, email)
    response = await redeem(web, client, code, verifier)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _auth(client: dict[str, Any]) -> dict[str, str]:
    return {"client_id": client["id"], "client_secret": client["client_secret"]}


async def test_discovery_documents_validate_and_name_this_issuer(web: AsyncClient) -> None:
    oauth = (await web.get("/.well-known/oauth-authorization-server")).json()
    AuthorizationServerMetadata(oauth).validate()
    oidc = (await web.get("/.well-known/openid-configuration")).json()
    # Every check, RS256 among them (OIDC Core §15.1: an OP must offer it for ID tokens).
    OpenIDProviderMetadata(oidc).validate()
    assert oidc["id_token_signing_alg_values_supported"] == ["RS256", "ES256"]
    assert oidc["issuer"] == oauth["issuer"] == ISSUER
    assert oidc["code_challenge_methods_supported"] == ["S256"]
    assert oidc["response_types_supported"] == ["code"]
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint"):
        path = oidc[endpoint].removeprefix(ISSUER)
        assert (await web.options(path)).status_code != 404, endpoint
    assert (await web.get(oidc["jwks_uri"].removeprefix(ISSUER))).status_code == 200


async def test_a_retired_key_verifies_and_is_published_until_its_retirement(
    web: AsyncClient, runtime: Any
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    current = await bearer(web, email)
    verified = runtime.signer.verify(current["Authorization"].removeprefix("Bearer "))
    assert verified is not None
    # A token the previous key signed before the rotation, for a live login session.
    old_signer = TokenSigner(OLD_KEY.jwt_keys, OLD_KID)
    old_token = old_signer.sign(dict(verified.claims))
    headers = {"Authorization": f"Bearer {old_token}"}

    rsa_kid = runtime.signer.rsa_active_kid  # the ID tokens' RSA key, published beside
    kids = [k["kid"] for k in (await web.get("/api/v1/auth/jwks.json")).json()["keys"]]
    assert sorted(kids) == sorted([OLD_KID, runtime.signer.active_kid, rsa_kid])
    assert (await web.get("/api/v1/users/me", headers=headers)).status_code == 200
    assert runtime.signer.sign({"a": 1}).count(".") == 2  # the new key signs
    with clock.frozen_at(RETIRE_AT + timedelta(seconds=1)):
        kids = [k["kid"] for k in (await web.get("/api/v1/auth/jwks.json")).json()["keys"]]
        assert kids == [runtime.signer.active_kid, rsa_kid]
        assert runtime.signer.verify(old_token) is None
    # The retirement is a setting: the active key can never be retired.
    with pytest.raises(ValueError, match="cannot be retired"):
        TokenSigner(OLD_KEY.jwt_keys, OLD_KID, {OLD_KID: RETIRE_AT})


async def test_introspection_answers_a_confidential_client_about_its_own_tokens(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any], admin: dict[str, str]
) -> None:
    tokens = await _tokens(web, runtime, app_client)
    url = "/api/v1/oauth/introspect"
    own = await web.post(url, data={"token": tokens["access_token"], **_auth(app_client)})
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["active"] is True
    assert body["client_id"] == app_client["id"]
    assert body["scope"] == tokens["scope"]
    refresh = (
        await web.post(url, data={"token": tokens["refresh_token"], **_auth(app_client)})
    ).json()
    assert refresh["active"] is True
    assert refresh["token_type"] == "refresh_token"

    owner, _ = await verified_user(runtime, Role.AGENT)
    other = await register(web, admin, owner)
    theirs = await web.post(url, data={"token": tokens["access_token"], **_auth(other)})
    assert theirs.json() == {"active": False}
    assert (await web.post(url, data={"token": "garbage", **_auth(app_client)})).json() == {
        "active": False
    }
    anonymous = await web.post(url, data={"token": tokens["access_token"]})
    assert anonymous.status_code == 401
    public = await register(web, admin, owner, client_type="public")
    by_public = await web.post(url, data={"token": "x", "client_id": public["id"]})
    assert by_public.status_code == 401


async def test_revoking_a_refresh_token_ends_the_authorization(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any], session: AsyncSession
) -> None:
    tokens = await _tokens(web, runtime, app_client)
    url = "/api/v1/oauth/revoke"
    revoked = await web.post(url, data={"token": tokens["refresh_token"], **_auth(app_client)})
    assert revoked.status_code == 200, revoked.text
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await web.get("/api/v1/oauth/userinfo", headers=headers)).status_code == 401
    again = await web.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        | _auth(app_client),
    )
    assert again.status_code == 400
    # Unknown tokens, and a second revocation, are answered alike (RFC 7009 §2.2).
    for token in ("never-issued", tokens["refresh_token"]):
        response = await web.post(url, data={"token": token, **_auth(app_client)})
        assert response.status_code == 200
    events = (
        await session.execute(
            text("SELECT event, reason FROM oauth_token_log WHERE client_id = :c ORDER BY id"),
            {"c": app_client["id"]},
        )
    ).all()
    assert [tuple(e) for e in events] == [("issued", None), ("revoked", "revoked_by_client")]


async def test_revoking_an_access_token_and_another_clients_token(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any], admin: dict[str, str]
) -> None:
    tokens = await _tokens(web, runtime, app_client)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    other = await new_client(web, runtime, admin)
    url = "/api/v1/oauth/revoke"
    for token in (tokens["access_token"], tokens["refresh_token"]):
        refused = await web.post(url, data={"token": token, **_auth(other)})
        assert refused.status_code == 400
        assert refused.json()["error"] == "unauthorized_client"
    assert (await web.get("/api/v1/oauth/userinfo", headers=headers)).status_code == 200
    unauthenticated = await web.post(url, data={"token": tokens["access_token"]})
    assert unauthenticated.status_code == 401
    revoked = await web.post(url, data={"token": tokens["access_token"], **_auth(app_client)})
    assert revoked.status_code == 200
    assert (await web.get("/api/v1/oauth/userinfo", headers=headers)).status_code == 401


async def test_userinfo_needs_an_openid_token(
    web: AsyncClient, runtime: Any, app_client: dict[str, Any]
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    password_login = await bearer(web, email)
    response = await web.get("/api/v1/oauth/userinfo", headers=password_login)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    code, verifier = await code_for(web, app_client, email, scope="quotes:read")
    tokens = (await redeem(web, app_client, code, verifier)).json()
    assert "id_token" not in tokens
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await web.get("/api/v1/oauth/userinfo", headers=headers)).status_code == 403
    assert (await web.get("/api/v1/oauth/userinfo")).status_code == 401
    # An API key authenticates but is no OpenID token (it used to make userinfo fail, 500).
    _, agent_email = await verified_user(runtime, Role.AGENT)
    issued = await web.post(
        "/api/v1/api-keys",
        json={"name": "k", "scopes": ["quotes:read"]},
        headers=await bearer(web, agent_email),
    )
    assert issued.status_code == 201, issued.text
    by_key = {"Authorization": f"Bearer {issued.json()['key']}"}
    for method in ("GET", "POST"):
        response = await web.request(method, "/api/v1/oauth/userinfo", headers=by_key)
        assert response.status_code == 403, response.text
