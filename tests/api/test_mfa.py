"""MFA: TOTP enrolment and login, replay, recovery codes, staff enrolment, throttling, reset."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import mfa
from pd_prime_demo.identity.rules import STAFF_ROLES
from pd_prime_demo.main import create_app
from tests.conftest import make_settings
from tests.factories import (
    PASSWORD,
    Login,
    create_user,
    login,
    mails_to,
    register_and_login,
    user_login,
)
from tests.webauthn_authenticator import SoftAuthenticator

TOKEN = "/api/v1/auth/token"
MFA_GRANT = "urn:pd-prime:params:oauth:grant-type:mfa"
# A moment on a TOTP step boundary just ahead (tokens issued now are valid then), so that "the
# next step" is 30 s later: taken afresh for each test, since a module of the whole suite runs
# minutes after it is imported.
T0 = datetime.fromtimestamp(0, UTC)


@pytest.fixture(autouse=True)
def _next_step_boundary() -> None:
    global T0
    T0 = datetime.fromtimestamp((int(time.time()) // 30 + 2) * 30, UTC)


def _require_for_staff(runtime: Runtime, **more: Any) -> None:
    runtime.settings = make_settings(
        str(runtime.settings.database_url),
        redis_url=runtime.settings.redis_url,
        mfa_required_roles=[r.value for r in STAFF_ROLES],
        **more,
    )


def _code(secret: str, at: datetime) -> str:
    return mfa.totp_code(secret, at=at.timestamp())


async def _password(client: AsyncClient, email: str, password: str = PASSWORD) -> Any:
    return await client.post(
        TOKEN, data={"grant_type": "password", "username": email, "password": password}
    )


async def _second(client: AsyncClient, mfa_token: str, **factor: str) -> Any:
    return await client.post(
        TOKEN, data={"grant_type": MFA_GRANT, "mfa_token": mfa_token, **factor}
    )


async def _enrol(
    client: AsyncClient, headers: dict[str, str], at: datetime
) -> tuple[str, list[str]]:
    begun = await client.post("/api/v1/account/mfa/totp", headers=headers)
    assert begun.status_code == 200, begun.text
    secret = begun.json()["secret"]
    confirmed = await client.post(
        "/api/v1/account/mfa/totp/confirmation", json={"otp": _code(secret, at)}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, confirmed.json()["recovery_codes"]


def test_the_production_default_requires_mfa_for_every_staff_role() -> None:
    default = Settings.model_fields["mfa_required_roles"].get_default(call_default_factory=True)
    assert set(default) == {r.value for r in STAFF_ROLES}
    assert Role.CUSTOMER.value not in default
    parsed = Settings.model_validate({"mfa_required_roles": "agent, admin"})
    assert parsed.mfa_required_roles == ["agent", "admin"]
    with pytest.raises(ValueError, match="unknown roles: admn"):
        Settings.model_validate({"mfa_required_roles": "admn"})


async def test_a_customer_opts_into_totp_and_then_needs_a_code(
    client: AsyncClient, runtime: Runtime
) -> None:
    address = f"totp.{uuid.uuid4().hex[:6]}@example.com"
    password = "a long passphrase of mine"
    with clock.frozen_at(T0):
        holder = await register_and_login(client, address)
        status = await client.get("/api/v1/account/mfa", headers=holder)
        assert status.json() == {"methods": [], "required": False}
        begun = await client.post("/api/v1/account/mfa/totp", headers=holder)
        body = begun.json()
        assert body["otpauth_uri"].startswith("otpauth://totp/PD%20Prime:")
        assert body["secret"] in body["otpauth_uri"]
        assert body["qr_svg"].startswith("data:image/svg+xml")
        assert begun.headers["cache-control"] == "no-store"
        wrong = await client.post(
            "/api/v1/account/mfa/totp/confirmation", json={"otp": "000000"}, headers=holder
        )
        assert wrong.status_code == 401
        code = _code(body["secret"], T0)
        confirmed = await client.post(
            "/api/v1/account/mfa/totp/confirmation", json={"otp": code}, headers=holder
        )
        assert confirmed.status_code == 200, confirmed.text
        codes = confirmed.json()["recovery_codes"]
        assert len(codes) == 10
        assert len(set(codes)) == 10
        challenge = await _password(client, address, password)
        assert challenge.status_code == 401
        problem = challenge.json()
        assert problem["code"] == "auth.mfa_required"
        assert problem["mfa_methods"] == ["otp", "recovery_code"]
        assert "access_token" not in problem
        # The code that confirmed the enrolment is spent for its time step (RFC 6238 5.2).
        replay = await _second(client, problem["mfa_token"], otp=code)
        assert replay.status_code == 401
        assert replay.json()["code"] == "auth.invalid_otp"
    later = T0 + timedelta(seconds=30)
    with clock.frozen_at(later):
        ok = await _second(client, problem["mfa_token"], otp=_code(body["secret"], later))
        assert ok.status_code == 200, ok.text
        headers = {"Authorization": f"Bearer {ok.json()['access_token']}"}
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
        spent = await _second(client, problem["mfa_token"], otp=_code(body["secret"], later))
        assert spent.status_code == 401, "an mfa_token works once"
        assert spent.json()["code"] == "auth.invalid_mfa_token"
        again = (await _password(client, address, password)).json()["mfa_token"]
        same_code = await _second(client, again, otp=_code(body["secret"], later))
        assert same_code.json()["code"] == "auth.invalid_otp", "one code, one login"
        listed = (await client.get("/api/v1/account/mfa", headers=headers)).json()
        assert listed == {"methods": ["otp", "recovery_code"], "required": False}


async def test_recovery_codes_work_once_each(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    with clock.frozen_at(T0):
        _, codes = await _enrol(client, agent.headers, T0)
        token = (await _password(client, agent.email)).json()["mfa_token"]
        used = await _second(client, token, recovery_code=codes[3].lower().replace("-", " "))
        assert used.status_code == 200, "case, dashes and spaces do not matter"
        token = (await _password(client, agent.email)).json()["mfa_token"]
        again = await _second(client, token, recovery_code=codes[3])
        assert again.status_code == 401
        other = await _second(client, token, recovery_code=codes[4])
        assert other.status_code == 200, "a wrong code leaves the mfa_token usable"


async def test_wrong_codes_end_the_mfa_token_and_slow_the_address(
    client: AsyncClient, runtime: Runtime
) -> None:
    runtime.settings = make_settings(
        str(runtime.settings.database_url),
        redis_url=runtime.settings.redis_url,
        mfa_max_failures=3,
        login_delay_base_seconds=60,
    )
    agent = await user_login(client, runtime, Role.AGENT)
    with clock.frozen_at(T0):
        secret, _ = await _enrol(client, agent.headers, T0)
        token = (await _password(client, agent.email)).json()["mfa_token"]
        answers = [(await _second(client, token, otp="123456")).json()["code"] for _ in range(3)]
        assert answers == ["auth.invalid_otp"] * 3
        dead = await _second(client, token, otp=_code(secret, T0 + timedelta(seconds=30)))
        assert dead.json()["code"] == "auth.invalid_mfa_token", "spent by three wrong codes"
        fresh = (await _password(client, agent.email)).json()["mfa_token"]
        wrong = await _second(client, fresh, otp="123456")
        assert wrong.json()["code"] == "auth.invalid_otp"
        held = await _second(client, fresh, otp=_code(secret, T0 + timedelta(seconds=30)))
        assert held.status_code == 429, "past the free failures this address waits"
        assert int(held.headers["retry-after"]) >= 60


async def test_staff_must_enrol_before_their_first_login(
    client: AsyncClient, runtime: Runtime
) -> None:
    _require_for_staff(runtime)
    address = f"new.agent.{uuid.uuid4().hex[:6]}@example.com"
    await create_user(runtime, Role.AGENT, email=address)
    with clock.frozen_at(T0):
        refused = await _password(client, address)
        assert refused.status_code == 401
        problem = refused.json()
        assert problem["code"] == "auth.mfa_enrolment_required"
        assert "/api/v1/auth/mfa/totp/enrolment" in problem["detail"]
        ticket = problem["mfa_token"]
        not_a_login = await _second(client, ticket, otp="123456")
        assert not_a_login.json()["code"] == "auth.invalid_mfa_token"
        ticket = (await _password(client, address)).json()["mfa_token"]
        begun = await client.post("/api/v1/auth/mfa/totp/enrolment", json={"mfa_token": ticket})
        assert begun.status_code == 200, begun.text
        secret = begun.json()["secret"]
        done = await client.post(
            "/api/v1/auth/mfa/totp/enrolment/confirmation",
            json={"mfa_token": ticket, "otp": _code(secret, T0)},
        )
        assert done.status_code == 200, done.text
        assert len(done.json()["recovery_codes"]) == 10
        headers = {"Authorization": f"Bearer {done.json()['access_token']}"}
        me = await client.get("/api/v1/account/mfa", headers=headers)
        assert me.json() == {"methods": ["otp", "recovery_code"], "required": True}
        reused = await client.post(
            "/api/v1/auth/mfa/totp/enrolment/confirmation",
            json={"mfa_token": ticket, "otp": _code(secret, T0)},
        )
        assert reused.status_code == 401, "the enrolment ticket is spent"
        assert (await _password(client, address)).json()["code"] == "auth.mfa_required"


async def test_customers_are_not_required_to_use_mfa(client: AsyncClient, runtime: Runtime) -> None:
    _require_for_staff(runtime)
    holder = await register_and_login(client, f"free.{uuid.uuid4().hex[:6]}@example.com")
    assert (await client.get("/api/v1/users/me", headers=holder)).status_code == 200
    # A staff role's plain password login is not enough now.
    address = f"adjuster.{uuid.uuid4().hex[:6]}@example.com"
    await create_user(runtime, Role.ADJUSTER, email=address)
    assert (await _password(client, address)).status_code == 401


async def test_an_admin_resets_a_users_mfa_which_ends_their_sessions(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    with clock.frozen_at(T0):
        await _enrol(client, agent.headers, T0)
    forbidden = await client.post(f"/api/v1/users/{agent.user_id}/mfa-reset", headers=agent.headers)
    assert forbidden.status_code == 403
    reset = await client.post(f"/api/v1/users/{agent.user_id}/mfa-reset", headers=admin.headers)
    assert reset.status_code == 200, reset.text
    assert reset.json() == {
        "user_id": str(agent.user_id),
        "credentials_removed": 1,
        "sessions_ended": 1,
    }
    assert (await client.get("/api/v1/users/me", headers=agent.headers)).status_code == 401
    tokens = await login(client, agent.email)  # no second factor any more (none required here)
    assert tokens["access_token"]
    unknown = await client.post(f"/api/v1/users/{uuid.uuid4()}/mfa-reset", headers=admin.headers)
    assert unknown.status_code == 404
    entries = await client.get(
        "/api/v1/audit/entries",
        params={"resource_type": "user", "resource_id": str(agent.user_id)},
        headers=admin.headers,
    )
    actions = [e["action"] for e in entries.json()["items"]]
    assert "mfa.reset" in actions
    assert "mfa.enrolled" in actions


async def test_an_api_clients_token_has_no_account_to_manage(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent: Login = await user_login(client, runtime, Role.AGENT)
    listed = await client.get("/api/v1/account/sessions", headers=agent.headers)
    assert listed.status_code == 200
    anonymous = await client.get("/api/v1/account/sessions")
    assert anonymous.status_code == 401


@pytest.mark.parametrize("otp", ["12345", "abcdef", "1234567890123"])
async def test_malformed_codes_are_a_422(client: AsyncClient, runtime: Runtime, otp: str) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    bad = await client.post(
        "/api/v1/account/mfa/totp/confirmation", json={"otp": otp}, headers=agent.headers
    )
    assert bad.status_code == 422


# --- passkeys (WebAuthn) with a software authenticator ---

ORIGIN = "https://pd-prime.test"
RP_ID = "pd-prime.test"


def _passkeys(runtime: Runtime) -> None:
    runtime.settings = make_settings(
        str(runtime.settings.database_url),
        redis_url=runtime.settings.redis_url,
        webauthn_rp_id=RP_ID,
        webauthn_origins=[ORIGIN],
    )


async def _register_passkey(
    client: AsyncClient, headers: dict[str, str], authenticator: SoftAuthenticator
) -> Any:
    options = await client.post(
        "/api/v1/account/mfa/webauthn/registration-options", headers=headers
    )
    assert options.status_code == 200, options.text
    public_key = options.json()["options"]
    assert public_key["rp"] == {"id": RP_ID, "name": "PD Prime"}
    assert public_key["attestation"] == "none"
    return await client.post(
        "/api/v1/account/mfa/webauthn/credentials",
        json={"name": "laptop", "credential": authenticator.create(public_key)},
        headers=headers,
    )


async def _passkey_options(client: AsyncClient, mfa_token: str) -> dict[str, Any]:
    options = await client.post("/api/v1/auth/mfa/webauthn/options", json={"mfa_token": mfa_token})
    assert options.status_code == 200, options.text
    return dict(options.json()["options"])


async def test_a_passkey_is_registered_and_signs_a_login_in(
    client: AsyncClient, runtime: Runtime
) -> None:
    _passkeys(runtime)
    agent = await user_login(client, runtime, Role.AGENT)
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID)
    registered = await _register_passkey(client, agent.headers, authenticator)
    assert registered.status_code == 201, registered.text
    assert registered.json()["name"] == "laptop"
    assert len(registered.json()["recovery_codes"]) == 10, "the first second factor"
    challenge = await _password(client, agent.email)
    assert challenge.json()["code"] == "auth.mfa_required"
    assert challenge.json()["mfa_methods"] == ["webauthn", "recovery_code"]
    token = challenge.json()["mfa_token"]
    options = await _passkey_options(client, token)
    assert options["rpId"] == RP_ID
    signed = await client.post(
        "/api/v1/auth/mfa/webauthn",
        json={"mfa_token": token, "credential": authenticator.get(options)},
    )
    assert signed.status_code == 200, signed.text
    headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    sessions = (await client.get("/api/v1/account/sessions", headers=headers)).json()["items"]
    assert [s["method"] for s in sessions if s["current"]] == ["mfa:webauthn"]


async def test_forged_replayed_or_misdirected_assertions_are_refused(
    client: AsyncClient, runtime: Runtime
) -> None:
    _passkeys(runtime)
    agent = await user_login(client, runtime, Role.AGENT)
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID)
    assert (await _register_passkey(client, agent.headers, authenticator)).status_code == 201
    token = (await _password(client, agent.email)).json()["mfa_token"]

    async def attempt(**how: Any) -> Any:
        options = await _passkey_options(client, token)
        return await client.post(
            "/api/v1/auth/mfa/webauthn",
            json={"mfa_token": token, "credential": authenticator.get(options, **how)},
        )

    phishing = await attempt(origin="https://pd-prime.example.evil")
    assert phishing.status_code == 401
    assert phishing.json()["code"] == "auth.invalid_webauthn_assertion"
    assert (await attempt(rp_id="evil.test")).status_code == 401
    # An impostor key with the same credential id.
    impostor = SoftAuthenticator(
        origin=ORIGIN, rp_id=RP_ID, credential_id=authenticator.credential_id
    )
    options = await _passkey_options(client, token)
    forged = await client.post(
        "/api/v1/auth/mfa/webauthn",
        json={"mfa_token": token, "credential": impostor.get(options)},
    )
    assert forged.status_code == 401
    good_options = await _passkey_options(client, token)
    good = authenticator.get(good_options)
    ok = await client.post(
        "/api/v1/auth/mfa/webauthn", json={"mfa_token": token, "credential": good}
    )
    assert ok.status_code == 200, ok.text
    # The same assertion again (its challenge is spent), on a fresh login.
    token = (await _password(client, agent.email)).json()["mfa_token"]
    replay = await client.post(
        "/api/v1/auth/mfa/webauthn", json={"mfa_token": token, "credential": good}
    )
    assert replay.status_code == 401
    # A counter that goes backwards: a cloned authenticator.
    cloned = await attempt(count=1)
    assert cloned.status_code == 401


async def test_a_passkey_registration_is_checked(client: AsyncClient, runtime: Runtime) -> None:
    _passkeys(runtime)
    agent = await user_login(client, runtime, Role.AGENT)
    authenticator = SoftAuthenticator(origin="https://elsewhere.test", rp_id=RP_ID)
    wrong_origin = await _register_passkey(client, agent.headers, authenticator)
    assert wrong_origin.status_code == 422
    assert wrong_origin.json()["code"] == "mfa.invalid_webauthn_response"
    no_challenge = await client.post(
        "/api/v1/account/mfa/webauthn/credentials",
        json={"credential": {"id": "x", "rawId": "x", "type": "public-key", "response": {}}},
        headers=agent.headers,
    )
    assert no_challenge.status_code == 422
    status = await client.get("/api/v1/account/mfa", headers=agent.headers)
    assert status.json()["methods"] == []


# --- adding a factor: the user's own, recent login; the owner is told (review M2) ---


async def test_adding_a_second_factor_needs_a_login_under_five_minutes_old(
    client: AsyncClient, runtime: Runtime
) -> None:
    _passkeys(runtime)
    customer = await user_login(client, runtime, Role.CUSTOMER)
    later = clock.now() + timedelta(minutes=6)
    with clock.frozen_at(later):
        # A refresh keeps the login's time: a stolen, refreshed session is no fresh login.
        refreshed = await client.post(
            TOKEN, data={"grant_type": "refresh_token", "refresh_token": customer.refresh_token}
        )
        assert refreshed.status_code == 200, refreshed.text
        stale = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        for path in (
            "/api/v1/account/mfa/totp",
            "/api/v1/account/mfa/totp/confirmation",
            "/api/v1/account/mfa/webauthn/registration-options",
            "/api/v1/account/mfa/webauthn/credentials",
        ):
            body: dict[str, Any] = (
                {"otp": "123456"}
                if path.endswith("totp/confirmation")
                else {"name": "x", "credential": {}}
                if path.endswith("credentials")
                else {}
            )
            refused = await client.post(path, json=body or None, headers=stale)
            assert refused.status_code == 401, (path, refused.text)
            assert refused.json()["code"] == "auth.reauthentication_required"
            challenge = refused.headers["www-authenticate"]
            assert 'error="insufficient_user_authentication"' in challenge
            assert 'max_age="300"' in challenge
        assert (await client.get("/api/v1/account/sessions", headers=stale)).status_code == 200
        fresh = {"Authorization": f"Bearer {(await login(client, customer.email))['access_token']}"}
        assert (await client.post("/api/v1/account/mfa/totp", headers=fresh)).status_code == 200
        authenticator = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID)
        assert (await _register_passkey(client, fresh, authenticator)).status_code == 201


async def test_an_api_key_manages_no_account_security(
    client: AsyncClient, runtime: Runtime
) -> None:
    _passkeys(runtime)
    agent = await user_login(client, runtime, Role.AGENT)
    made = await client.post(
        "/api/v1/api-keys",
        json={"name": "k", "scopes": ["customers:read"]},
        headers=agent.headers,
    )
    assert made.status_code == 201, made.text
    key = {"Authorization": f"Bearer {made.json()['key']}"}
    for method, path in (
        ("POST", "/api/v1/account/mfa/webauthn/registration-options"),
        ("POST", "/api/v1/account/mfa/totp"),
        ("GET", "/api/v1/account/sessions"),
        ("GET", "/api/v1/account/mfa"),
        ("POST", f"/api/v1/api-keys/{made.json()['id']}/revocation"),
    ):
        refused = await client.request(method, path, headers=key)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["code"] == "auth.person_session_required"


async def test_the_owner_is_told_by_mail_when_a_factor_is_added(
    client: AsyncClient, runtime: Runtime
) -> None:
    _passkeys(runtime)
    customer = await user_login(client, runtime, Role.CUSTOMER)
    subject = "A second factor was added to your PD Prime account"
    assert [m for m in await mails_to(runtime, customer.email) if m.subject == subject] == []
    with clock.frozen_at(T0):
        await _enrol(client, customer.headers, T0)
    told = [m for m in await mails_to(runtime, customer.email) if m.subject == subject]
    assert len(told) == 1
    assert "authenticator app" in told[0].body
    agent = await user_login(client, runtime, Role.AGENT)
    authenticator = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID)
    assert (await _register_passkey(client, agent.headers, authenticator)).status_code == 201
    told = [m for m in await mails_to(runtime, agent.email) if m.subject == subject]
    assert len(told) == 1
    assert "passkey" in told[0].body


async def test_one_passkey_registered_twice_at_once_is_a_409_not_a_500(
    committed_runtime: Runtime,
) -> None:
    committed_runtime.settings = committed_runtime.settings.model_copy(
        update={"webauthn_rp_id": RP_ID, "webauthn_origins": [ORIGIN]}
    )
    app = create_app(runtime=committed_runtime)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        one = await user_login(client, committed_runtime, Role.AGENT)
        two = await user_login(client, committed_runtime, Role.AGENT)
        authenticator = SoftAuthenticator(origin=ORIGIN, rp_id=RP_ID)
        bodies = []
        for who in (one, two):
            options = await client.post(
                "/api/v1/account/mfa/webauthn/registration-options", headers=who.headers
            )
            assert options.status_code == 200, options.text
            bodies.append(authenticator.create(options.json()["options"]))
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/account/mfa/webauthn/credentials",
                    json={"name": "shared", "credential": body},
                    headers=who.headers,
                )
                for who, body in zip((one, two), bodies, strict=True)
            )
        )
    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409)
    assert refused.json()["code"] == "mfa.webauthn_credential_taken"
