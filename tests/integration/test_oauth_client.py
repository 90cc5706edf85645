"""The provider against a real OAuth client (authlib's AsyncOAuth2Client), and its races on a
database whose transactions really commit and run in parallel."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client  # type: ignore[import-untyped]
from authlib.integrations.starlette_client import OAuth  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import text

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.oauth_support import (  # noqa: F401 (the *_fixture are pytest fixtures)
    ISSUER,
    REDIRECT,
    TOKEN,
    admin_bearer,
    authorization_params,
    browser,
    code_for,
    consent,
    hidden_fields,
    new_client,
    pkce_pair,
    redeem,
    redirect_query,
    refresh_form,
    register,
    settings_fixture,
    verified_user,
    web_fixture,
)


async def test_authlibs_client_completes_code_and_pkce_then_reads_userinfo_and_refreshes(
    app: FastAPI, web: AsyncClient, runtime: Runtime
) -> None:
    admin = await admin_bearer(web, runtime)
    owner, _ = await verified_user(runtime, Role.AGENT)
    # authlib's client authenticates with HTTP Basic, its default.
    registered = await register(web, admin, owner, token_endpoint_auth_method="client_secret_basic")
    user_id, email = await verified_user(runtime, Role.CUSTOMER)

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncOAuth2Client(
        client_id=registered["id"],
        client_secret=registered["client_secret"],
        scope="openid email quotes:read",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        transport=transport,
    ) as oauth:
        metadata = (
            await oauth.request(
                "GET", f"{ISSUER}/.well-known/openid-configuration", withhold_token=True
            )
        ).json()
        verifier = secrets.token_urlsafe(48)
        nonce = secrets.token_urlsafe(12)
        url, state = oauth.create_authorization_url(
            metadata["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        assert "code_challenge_method=S256" in url

        # The user's browser: the page, the password, Allow.
        page = await web.get(url)
        assert page.status_code == 200, page.text
        form = hidden_fields(page.text) | {"decision": "allow", "email": email}
        form["password"] = "a sufficiently long passphrase"
        answer = await web.post("/api/v1/oauth/authorize", data=form)
        assert answer.status_code == 303, answer.text
        assert redirect_query(answer)["state"] == state

        token = await oauth.fetch_token(
            metadata["token_endpoint"],
            authorization_response=answer.headers["location"],
            code_verifier=verifier,
        )
        assert token["token_type"] == "Bearer"
        jwks = KeySet.import_key_set(
            (await oauth.request("GET", metadata["jwks_uri"], withhold_token=True)).json()
        )
        # A client that registered no algorithm gets RS256, what a relying party expects of
        # an OpenID provider by default (OIDC Core §15.1, Dynamic Client Registration §2).
        decoded = jwt.decode(token["id_token"], jwks, algorithms=["RS256"])
        assert decoded.header["alg"] == "RS256"
        id_token = CodeIDToken(
            decoded.claims,
            decoded.header,
            {"iss": {"value": ISSUER}, "aud": {"value": registered["id"]}},
            {"nonce": nonce, "access_token": token["access_token"]},
        )
        id_token.validate(now=int(clock.now().timestamp()))
        # authlib's relying party validates it its own way: algorithms from discovery, keys
        # from the JWKS, then iss, aud, exp, nonce and at_hash.
        claims = await _relying_party(app, registered).parse_id_token(token, nonce)
        assert claims["sub"] == str(user_id)

        info = await oauth.get(metadata["userinfo_endpoint"])
        assert info.status_code == 200, info.text
        assert info.json()["sub"] == str(user_id)
        assert info.json()["email"] == email

        first_refresh = token["refresh_token"]
        refreshed = await oauth.refresh_token(metadata["token_endpoint"])
        assert refreshed["refresh_token"] != first_refresh
        assert (await oauth.get(metadata["userinfo_endpoint"])).status_code == 200

        await oauth.revoke_token(metadata["revocation_endpoint"], refreshed["refresh_token"])
        assert (await oauth.get(metadata["userinfo_endpoint"])).status_code == 401


def _relying_party(app: FastAPI, registered: dict[str, Any]) -> Any:
    """authlib's OpenID Connect relying party (its Starlette integration), configured from
    the discovery document as any would be."""
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    return OAuth().register(
        "pd_prime",
        client_id=registered["id"],
        client_secret=registered.get("client_secret"),
        server_metadata_url=f"{ISSUER}/.well-known/openid-configuration",
        client_kwargs={"transport": transport, "scope": "openid email"},
    )


async def test_a_client_registered_for_es256_gets_es256_id_tokens_an_rp_accepts(
    app: FastAPI, web: AsyncClient, runtime: Runtime
) -> None:
    admin = await admin_bearer(web, runtime)
    registered = await new_client(web, runtime, admin, id_token_signed_response_alg="ES256")
    assert registered["id_token_signed_response_alg"] == "ES256"
    user_id, email = await verified_user(runtime, Role.CUSTOMER)
    verifier, challenge = pkce_pair()
    params = authorization_params(registered, challenge)
    code = redirect_query(await consent(web, params, email=email))["code"]
    token = (await redeem(web, registered, code, verifier)).json()

    header = jws.extract_compact(token["id_token"].encode()).headers()
    assert header["alg"] == "ES256"
    assert header["kid"] == runtime.signer.active_kid
    claims = await _relying_party(app, registered).parse_id_token(token, params["nonce"])
    assert claims["sub"] == str(user_id)
    # Signed by the access tokens' key, yet no access token: its typ is JWT, not at+jwt.
    as_bearer = {"Authorization": f"Bearer {token['id_token']}"}
    assert (await web.get("/api/v1/users/me", headers=as_bearer)).status_code == 401
    # The other algorithm's key does not verify it: the kid and the alg name one key.
    published = KeySet.import_key_set((await web.get("/api/v1/auth/jwks.json")).json())
    rsa_only = KeySet([k for k in published.keys if k.key_type == "RSA"])
    with pytest.raises(JoseError):
        jwt.decode(token["id_token"], rsa_only, algorithms=["RS256", "ES256"])


async def _committed_setup(app: FastAPI, runtime: Runtime) -> tuple[dict[str, Any], str]:
    async with browser(app) as web:
        admin = await admin_bearer(web, runtime)
        registered = await new_client(web, runtime, admin)
    _, email = await verified_user(runtime, Role.CUSTOMER)
    return registered, email


async def test_two_parallel_redemptions_of_one_code_exactly_one_succeeds(
    committed_runtime: Runtime,
) -> None:
    app = create_app(runtime=committed_runtime)
    registered, email = await _committed_setup(app, committed_runtime)
    for _ in range(5):
        async with browser(app) as web:
            code, verifier = await code_for(web, registered, email)
            outcomes = await asyncio.gather(
                *(redeem(web, registered, code, verifier) for _ in range(2))
            )
        statuses = sorted(r.status_code for r in outcomes)
        assert statuses == [200, 400], [r.text for r in outcomes]
        loser = next(r for r in outcomes if r.status_code == 400)
        assert loser.json()["error"] == "invalid_grant"
        winner = next(r for r in outcomes if r.status_code == 200).json()
        # The loser's redemption was a replay: what the winner got is revoked too.
        async with browser(app) as web:
            headers = {"Authorization": f"Bearer {winner['access_token']}"}
            assert (await web.get("/api/v1/oauth/userinfo", headers=headers)).status_code == 401
    async with committed_runtime.db.unit_of_work() as session:
        counts: dict[str, int] = dict(
            (
                await session.execute(
                    text(
                        "SELECT event, count(*) FROM oauth_token_log WHERE client_id = :c "
                        "GROUP BY event"
                    ),
                    {"c": registered["id"]},
                )
            ).all()
        )
    assert counts == {"issued": 5, "code_replayed": 5, "revoked": 5}


async def test_two_parallel_refreshes_of_one_token_exactly_one_succeeds(
    committed_runtime: Runtime,
) -> None:
    app = create_app(runtime=committed_runtime)
    registered, email = await _committed_setup(app, committed_runtime)
    async with browser(app) as web:
        code, verifier = await code_for(web, registered, email)
        tokens = (await redeem(web, registered, code, verifier)).json()
        form = refresh_form(registered, tokens["refresh_token"])
        outcomes = await asyncio.gather(*(web.post(TOKEN, data=form) for _ in range(10)))
    statuses = sorted(r.status_code for r in outcomes)
    assert statuses == [200] + [400] * 9, [r.text for r in outcomes]


async def test_the_page_refuses_to_be_framed_and_runs_no_script(
    web: AsyncClient, runtime: Runtime
) -> None:
    admin = await admin_bearer(web, runtime)
    registered = await new_client(web, runtime, admin)
    _, email = await verified_user(runtime, Role.CUSTOMER)
    _, challenge = pkce_pair()
    params = authorization_params(registered, challenge, state='"><script>alert(1)</script>')
    page = await web.get("/api/v1/oauth/authorize", params=params)
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text  # the state is escaped in the hidden field
    assert redirect_query(await consent(web, params, email=email))["state"] == params["state"]
