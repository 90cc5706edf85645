"""RS256 ID tokens beside ES256 (OpenID Connect Core §15.1), and no algorithm confusion: the
RSA key signs ID tokens only, and nothing it signed, nor anything keyed with it, is ever an
access token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from httpx import AsyncClient
from joserfc import jws, jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.conftest import KEYS
from tests.oauth_support import (  # noqa: F401 (the *_fixture are pytest fixtures)
    admin_fixture,
    authorization_params,
    bearer,
    browser,
    consent,
    pkce_pair,
    redeem,
    redirect_query,
    register,
    settings_fixture,
    verified_user,
    web_fixture,
)

RSA_KID = KEYS["PD_PRIME_OIDC_RSA_ACTIVE_KID"]
RSA_KEY = RSAKey.import_key(json.loads(KEYS["PD_PRIME_OIDC_RSA_KEYS"])[RSA_KID])


@pytest.fixture
async def ec_only(runtime: Runtime) -> Runtime:
    """The same database, configured without an RSA key (a production that set none)."""
    settings = runtime.settings.model_copy(
        update={"oidc_rsa_keys": {}, "oidc_rsa_active_kid": None}
    )
    other = Runtime.create(settings, db=runtime.db)
    await other.cache.close()
    await other.limiter.close()
    other.cache, other.limiter = runtime.cache, runtime.limiter
    return other


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _hs256(header: dict[str, Any], claims: dict[str, Any], secret: bytes) -> str:
    """An HS256 JWS made by hand, as an attacker holding only public keys would make it."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


async def _status(web: AsyncClient, token: str) -> int:
    return (
        await web.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    ).status_code


async def test_nothing_the_rsa_key_signs_or_keys_is_accepted_as_an_access_token(
    web: AsyncClient, runtime: Runtime
) -> None:
    _, email = await verified_user(runtime, Role.CUSTOMER)
    real = (await bearer(web, email))["Authorization"].removeprefix("Bearer ")
    verified = runtime.signer.verify(real)
    assert verified is not None
    claims = dict(verified.claims)
    # The control: these claims, signed by the EC key as an access token, are one.
    assert await _status(web, runtime.signer.sign(claims)) == 200

    # An RS256 access token by the provider's own RSA key, correctly typed, with its kid.
    rs256 = jwt.encode({"alg": "RS256", "kid": RSA_KID, "typ": "at+jwt"}, claims, RSA_KEY)
    # The same, claiming the EC key's kid.
    rs256_ec_kid = jwt.encode(
        {"alg": "RS256", "kid": runtime.signer.active_kid, "typ": "at+jwt"}, claims, RSA_KEY
    )
    # What the provider itself signs with the RSA key: an ID token (typ JWT).
    id_token = runtime.signer.sign_id_token(claims, algorithm="RS256")
    # HS256 keyed with public key material (the classic confusion): the RSA key's PEM, its
    # JWK as published, the EC key's PEM, under either kid.
    jwks = runtime.signer.public_jwks()
    rsa_jwk = next(k for k in jwks["keys"] if k["kty"] == "RSA")
    ec_jwk = next(k for k in jwks["keys"] if k["kty"] == "EC")
    secrets = [
        RSA_KEY.as_pem(private=False),
        json.dumps(rsa_jwk).encode(),
        ECKey.import_key(ec_jwk).as_pem(private=False),
    ]
    hs256 = [
        _hs256({"alg": "HS256", "kid": kid, "typ": "at+jwt"}, claims, secret)
        for secret in secrets
        for kid in (RSA_KID, runtime.signer.active_kid)
    ]
    none_header = _b64(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    unsigned = f"{none_header}.{real.split('.')[1]}."
    for forged in [rs256, rs256_ec_kid, id_token, *hs256, unsigned]:
        assert runtime.signer.verify(forged) is None, jws.extract_compact(forged.encode()).headers()
        assert await _status(web, forged) == 401
        info = await web.get(
            "/api/v1/oauth/userinfo", headers={"Authorization": f"Bearer {forged}"}
        )
        assert info.status_code == 401


async def test_registration_names_the_algorithm_and_refuses_others(
    web: AsyncClient, runtime: Runtime, admin: dict[str, str]
) -> None:
    owner, _ = await verified_user(runtime, Role.AGENT)
    assert (await register(web, admin, owner))["id_token_signed_response_alg"] == "RS256"
    es = await register(web, admin, owner, id_token_signed_response_alg="ES256")
    assert es["id_token_signed_response_alg"] == "ES256"
    listed = (await web.get("/api/v1/api-clients", headers=admin, params={"limit": 100})).json()
    assert {c["id"]: c["id_token_signed_response_alg"] for c in listed["items"]}[es["id"]] == (
        "ES256"
    )
    for alg in ("HS256", "none", "RS512", "rs256"):
        refused = await web.post(
            "/api/v1/api-clients",
            json={
                "name": "x",
                "owner_id": str(owner),
                "scopes": ["openid"],
                "grant_types": ["authorization_code"],
                "redirect_uris": ["https://app.example.com/callback"],
                "id_token_signed_response_alg": alg,
            },
            headers=admin,
        )
        assert refused.status_code == 422, (alg, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")


async def test_without_an_rsa_key_discovery_and_jwks_say_es256_only_and_nothing_breaks(
    web: AsyncClient, runtime: Runtime, ec_only: Runtime, admin: dict[str, str]
) -> None:
    owner, _ = await verified_user(runtime, Role.AGENT)
    # Registered while the RSA key was configured: RS256.
    earlier = await register(web, admin, owner)
    assert earlier["id_token_signed_response_alg"] == "RS256"
    async with browser(create_app(runtime=ec_only)) as ec_web:
        oidc = (await ec_web.get("/.well-known/openid-configuration")).json()
        assert oidc["id_token_signing_alg_values_supported"] == ["ES256"]
        keys = (await ec_web.get("/api/v1/auth/jwks.json")).json()["keys"]
        assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("EC", "ES256", "sig")]

        # A new client gets ES256, and cannot ask for RS256.
        fresh = await register(ec_web, admin, owner)
        assert fresh["id_token_signed_response_alg"] == "ES256"
        body = {
            "name": "x",
            "owner_id": str(owner),
            "scopes": ["openid"],
            "grant_types": ["authorization_code"],
            "redirect_uris": ["https://app.example.com/callback"],
            "id_token_signed_response_alg": "RS256",
        }
        refused = await ec_web.post("/api/v1/api-clients", json=body, headers=admin)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["pointer"] == "#/id_token_signed_response_alg"

        # The RS256 client still gets an ID token (ES256, never a 5xx).
        _, email = await verified_user(runtime, Role.CUSTOMER)
        verifier, challenge = pkce_pair()
        params = authorization_params(earlier, challenge)
        code = redirect_query(await consent(ec_web, params, email=email))["code"]
        tokens = await redeem(ec_web, earlier, code, verifier)
        assert tokens.status_code == 200, tokens.text
        header = jws.extract_compact(tokens.json()["id_token"].encode()).headers()
        assert header["alg"] == "ES256"


async def test_the_jwks_publishes_both_key_types_public_parts_only(
    web: AsyncClient, runtime: Runtime
) -> None:
    keys = (await web.get("/api/v1/auth/jwks.json")).json()["keys"]
    assert [(k["kty"], k["alg"], k["use"], k["kid"]) for k in keys] == [
        ("EC", "ES256", "sig", runtime.signer.active_kid),
        ("RSA", "RS256", "sig", RSA_KID),
    ]
    for key in keys:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key), key
    rsa = KeySet.import_key_set({"keys": [keys[1]]}).keys[0]
    assert isinstance(rsa, RSAKey)
    assert rsa.raw_value.key_size == 3072
