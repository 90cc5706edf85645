"""The authorization page asks for the second factor the identity service requires."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import AsyncClient
from joserfc import jwt
from joserfc.jwk import KeySet

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.identity import mfa
from tests.oauth_support import (  # noqa: F401 (the *_fixture are pytest fixtures)
    AUTHORIZE,
    admin_bearer,
    authorization_params,
    bearer,
    consent,
    hidden_fields,
    new_client,
    pkce_pair,
    redeem,
    redirect_query,
    settings_fixture,
    verified_user,
    web_fixture,
)

# A moment on a TOTP step boundary just ahead (tokens issued now are valid then), so that "the
# next step" is 30 s later: taken afresh for each test, since a module of the whole suite runs
# minutes after it is imported.
T0 = datetime.fromtimestamp(0, UTC)


@pytest.fixture(autouse=True)
def _next_step_boundary() -> None:
    global T0
    T0 = datetime.fromtimestamp((int(time.time()) // 30 + 2) * 30, UTC)


async def test_an_account_with_totp_signs_in_with_its_code_and_the_id_token_says_so(
    web: AsyncClient, runtime: Any
) -> None:
    with clock.frozen_at(T0):
        admin = await admin_bearer(web, runtime)
        app_client = await new_client(web, runtime, admin)
        _, email = await verified_user(runtime, Role.CUSTOMER)
        holder = await bearer(web, email)
        begun = await web.post("/api/v1/account/mfa/totp", headers=holder)
        assert begun.status_code == 200, begun.text
        secret = begun.json()["secret"]
        confirmed = await web.post(
            "/api/v1/account/mfa/totp/confirmation",
            json={"otp": mfa.totp_code(secret, at=T0.timestamp())},
            headers=holder,
        )
        assert confirmed.status_code == 200, confirmed.text

        verifier, challenge = pkce_pair()
        params = authorization_params(app_client, challenge)
        asked = await consent(web, params, email=email)
        assert asked.status_code == 401
        assert "location" not in asked.headers
        assert 'name="otp"' in asked.text
        form = hidden_fields(asked.text)
        assert form["mfa_token"]
        assert "password" not in form

    later = T0 + timedelta(seconds=30)
    with clock.frozen_at(later):
        wrong = await web.post(AUTHORIZE, data=form | {"decision": "allow", "otp": "000000"})
        assert wrong.status_code == 401
        assert "location" not in wrong.headers
        form = hidden_fields(wrong.text)
        assert form["mfa_token"]  # a wrong code hands the ticket back
        otp = mfa.totp_code(secret, at=later.timestamp())
        passed = await web.post(AUTHORIZE, data=form | {"decision": "allow", "otp": otp})
        query = redirect_query(passed)
        tokens = (await redeem(web, app_client, query["code"], verifier)).json()
        jwks = KeySet.import_key_set((await web.get("/api/v1/auth/jwks.json")).json())
        claims = jwt.decode(tokens["id_token"], jwks, algorithms=["RS256"]).claims
        assert claims["amr"] == ["mfa", "otp", "pwd"]
        assert claims["acr"] == "urn:pd-prime:acr:aal2"
