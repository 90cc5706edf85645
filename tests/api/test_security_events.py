"""Security events: each refusal an attacker can provoke is one log line of the documented
schema on ``pd_prime.security``, moves its counters, and holds no e-mail, secret or address.

The lines are read as an operator's log shipper sees them: rendered JSON from the app's own
logging configuration, driven through the HTTP API.
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.logging import configure_logging
from pd_prime_demo.core.ratelimit import RateLimiter
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.security_events import (
    AUTH_FAILURE_REASONS,
    SecurityEventType,
    client_network,
)
from pd_prime_demo.core.telemetry import REGISTRY
from pd_prime_demo.identity import mfa
from pd_prime_demo.main import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD, create_user

TOKEN = "/api/v1/auth/token"
ME = "/api/v1/users/me"
MFA_GRANT = "urn:pd-prime:params:oauth:grant-type:mfa"
PEER = "203.0.113.7"
PEER_NETWORK = "203.0.113.0/24"
# The schema a SIEM parser is written against: every line carries every one of these.
SCHEMA_FIELDS = frozenset(
    {
        "event",
        "schema",
        "event_type",
        "reason",
        "user_id",
        "session_id",
        "client_id",
        "key_id",
        "actor",
        "role",
        "permission",
        "factor",
        "method",
        "route",
        "scope",
        "limit",
        "retry_after",
        "client_network",
    }
)


class SecurityLog:
    """The rendered log, read a piece at a time: what was written since the last read."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream
        self.offset = 0

    def lines_since_last_read(self) -> list[str]:
        text = self.stream.getvalue()
        new, self.offset = text[self.offset :], len(text)
        return [line for line in new.splitlines() if '"pd_prime.security"' in line]


@pytest.fixture
def security_log() -> Iterator[SecurityLog]:
    stream = io.StringIO()
    configure_logging("INFO", json=True, stream=stream)
    yield SecurityLog(stream)
    logging.getLogger().handlers.clear()


def _sample(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"{metric}_total", labels) or 0.0


class Expect:
    """One event of ``event_type`` that moves ``metric{labels}`` by one, checked by ``seen``."""

    def __init__(self, log: SecurityLog, event_type: str, metric: str, **labels: str) -> None:
        log.lines_since_last_read()  # what came before is not this event's
        self.log, self.event_type, self.metric, self.labels = log, event_type, metric, labels
        self.before = (
            _sample("pd_prime_security_events", type=event_type),
            _sample(metric, **labels),
        )

    def seen(self, *never: str) -> dict[str, Any]:
        lines = self.log.lines_since_last_read()
        assert len(lines) == 1, lines
        line = lines[0]
        event: dict[str, Any] = json.loads(line)
        assert event["event"] == "security"
        assert event["event_type"] == self.event_type
        assert event["schema"] == 1
        assert event.keys() >= SCHEMA_FIELDS, SCHEMA_FIELDS - event.keys()
        after = (
            _sample("pd_prime_security_events", type=self.event_type),
            _sample(self.metric, **self.labels),
        )
        assert (after[0] - self.before[0], after[1] - self.before[1]) == (1, 1)
        for secret in (PEER, *never):
            assert secret not in line, f"{secret!r} is in the security line"
        return event


def _level(event: dict[str, Any]) -> str:
    # The severity's key is the logging configuration's (core.logging), not this schema's.
    level: str = event.get("level", event.get("log_level", ""))
    return level


@asynccontextmanager
async def _client(app: FastAPI, peer: str = PEER) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, raise_app_exceptions=False, client=(peer, 40000))
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def _password(email: str, password: str) -> dict[str, str]:
    return {"grant_type": "password", "username": email, "password": password}


async def _login(client: AsyncClient, email: str) -> dict[str, Any]:
    response = await client.post(TOKEN, data=_password(email, PASSWORD))
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def test_the_client_address_is_cut_to_its_network() -> None:
    assert client_network(PEER) == PEER_NETWORK
    # The rate limiter counts IPv6 per /64; events name the /48 it belongs to.
    assert client_network("2001:db8:abcd:12::/64") == "2001:db8:abcd::/48"
    assert client_network("2001:db8::1") == "2001:db8::/48"
    assert client_network("unknown") is None
    assert client_network(None) is None


def test_every_event_type_has_a_counter_to_move() -> None:
    """A type added without its auth_failures reason would raise where it is logged."""
    others = {SecurityEventType.PERMISSION_DENIED, SecurityEventType.RATE_LIMITED}
    assert set(AUTH_FAILURE_REASONS) == set(SecurityEventType) - others


async def test_wrong_passwords_are_logged_by_account_id_never_by_e_mail(
    app: FastAPI, runtime: Runtime, security_log: SecurityLog
) -> None:
    email = f"owner.{uuid.uuid4().hex[:6]}@example.com"
    user_id = await create_user(runtime, Role.AGENT, email=email)
    failed_before = _sample("pd_prime_login_attempts", outcome="failed")
    async with _client(app) as client:
        expect = Expect(
            security_log, "login_failed", "pd_prime_auth_failures", reason="bad_password"
        )
        wrong = await client.post(TOKEN, data=_password(email, "not my passphrase at all"))
        assert wrong.status_code == 401
        event = expect.seen(email, "not my passphrase at all")
        assert (event["reason"], event["user_id"]) == ("wrong_password", str(user_id))
        assert event["client_network"] == PEER_NETWORK
        assert _level(event) == "warning"

        expect = Expect(
            security_log, "login_failed", "pd_prime_auth_failures", reason="bad_password"
        )
        stranger = "nobody.here@example.com"
        unknown = await client.post(TOKEN, data=_password(stranger, "a guess of a password"))
        assert unknown.status_code == 401
        event = expect.seen(stranger, "a guess of a password")
        assert (event["reason"], event["user_id"]) == ("unknown_account", None)
    # The older counter of password logins still counts them.
    assert _sample("pd_prime_login_attempts", outcome="failed") - failed_before == 2


async def test_a_throttled_login_is_one_event_with_its_wait(
    app: FastAPI, runtime: Runtime, security_log: SecurityLog
) -> None:
    runtime.settings = make_settings(
        str(runtime.settings.database_url),
        redis_url=runtime.settings.redis_url,
        login_free_failures=1,
        login_delay_base_seconds=30,
    )
    email = f"guessed.{uuid.uuid4().hex[:6]}@example.com"
    await create_user(runtime, Role.AGENT, email=email)
    async with _client(app) as client:
        for n in range(2):  # the free failure, then the one that takes the turn to wait
            assert (
                await client.post(TOKEN, data=_password(email, f"guess {n}"))
            ).status_code == 401
        expect = Expect(
            security_log, "login_throttled", "pd_prime_auth_failures", reason="throttled"
        )
        held = await client.post(TOKEN, data=_password(email, "guess 2"))
        assert held.status_code == 429, held.text
        event = expect.seen(email, "guess 2")
        assert event["retry_after"] == int(held.headers["retry-after"]) >= 30


def _next_step() -> datetime:
    """A TOTP step boundary just ahead, so the code of the step after it is a different one."""
    return datetime.fromtimestamp((int(time.time()) // 30 + 2) * 30, UTC)


async def test_wrong_second_factors_are_logged_with_the_factor_tried(
    app: FastAPI, runtime: Runtime, security_log: SecurityLog
) -> None:
    email = f"two.factors.{uuid.uuid4().hex[:6]}@example.com"
    user_id = await create_user(runtime, Role.AGENT, email=email)
    at = _next_step()
    with clock.frozen_at(at):
        async with _client(app) as client:
            headers = {"Authorization": f"Bearer {(await _login(client, email))['access_token']}"}
            begun = await client.post("/api/v1/account/mfa/totp", headers=headers)
            secret = begun.json()["secret"]
            code = mfa.totp_code(secret, at=at.timestamp())
            confirmed = await client.post(
                "/api/v1/account/mfa/totp/confirmation", json={"otp": code}, headers=headers
            )
            assert confirmed.status_code == 200, confirmed.text
            ticket = (await client.post(TOKEN, data=_password(email, PASSWORD))).json()
            mfa_token = ticket["mfa_token"]

            expect = Expect(
                security_log, "mfa_failed", "pd_prime_auth_failures", reason="mfa_failed"
            )
            wrong = await client.post(
                TOKEN, data={"grant_type": MFA_GRANT, "mfa_token": mfa_token, "otp": "000000"}
            )
            assert wrong.json()["code"] == "auth.invalid_otp"
            event = expect.seen(email, mfa_token, secret)
            assert (event["reason"], event["factor"]) == ("wrong_code", "otp")
            assert event["user_id"] == str(user_id)

            expect = Expect(
                security_log, "mfa_failed", "pd_prime_auth_failures", reason="mfa_failed"
            )
            forged = "f" * 43
            unknown = await client.post(
                TOKEN, data={"grant_type": MFA_GRANT, "mfa_token": forged, "otp": "000000"}
            )
            assert unknown.json()["code"] == "auth.invalid_mfa_token"
            event = expect.seen(forged)
            assert (event["reason"], event["user_id"]) == ("invalid_mfa_token", None)


async def test_a_missing_permission_is_logged_with_the_permission_and_route(
    app: FastAPI, runtime: Runtime, security_log: SecurityLog
) -> None:
    email = f"agent.{uuid.uuid4().hex[:6]}@example.com"
    user_id = await create_user(runtime, Role.AGENT, email=email)
    async with _client(app, peer="2001:db8:abcd:12::5") as client:
        headers = {"Authorization": f"Bearer {(await _login(client, email))['access_token']}"}
        expect = Expect(
            security_log,
            "permission_denied",
            "pd_prime_permission_denials",
            permission="users:read",
        )
        refused = await client.get("/api/v1/users", headers=headers)
        assert refused.status_code == 403
        assert refused.json()["code"] == "auth.permission_missing"
        event = expect.seen(email, headers["Authorization"][7:], "2001:db8:abcd:12")
    assert event["permission"] == "users:read"
    assert (event["actor"], event["user_id"], event["role"]) == (
        str(user_id),
        str(user_id),
        "agent",
    )
    assert (event["method"], event["route"]) == ("GET", "/api/v1/users")
    assert event["client_network"] == "2001:db8:abcd::/48"


async def test_refused_tokens_and_api_keys_say_why_without_the_secret(
    app: FastAPI, runtime: Runtime, security_log: SecurityLog
) -> None:
    email = f"holder.{uuid.uuid4().hex[:6]}@example.com"
    await create_user(runtime, Role.AGENT, email=email)
    async with _client(app) as client:
        forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
        expect = Expect(
            security_log, "token_invalid", "pd_prime_auth_failures", reason="token_invalid"
        )
        assert (
            await client.get(ME, headers={"Authorization": f"Bearer {forged}"})
        ).status_code == 401
        event = expect.seen(forged)
        assert (event["reason"], event["route"], event["method"]) == ("malformed", ME, "GET")

        access = (await _login(client, email))["access_token"]
        with clock.frozen_at(clock.now() + timedelta(hours=6)):
            expect = Expect(
                security_log, "token_invalid", "pd_prime_auth_failures", reason="token_invalid"
            )
            stale = await client.get(ME, headers={"Authorization": f"Bearer {access}"})
            assert stale.status_code == 401
            assert expect.seen(access)["reason"] == "expired"

        key = "pdp_live_" + uuid.uuid4().hex
        expect = Expect(
            security_log, "api_key_invalid", "pd_prime_auth_failures", reason="api_key_invalid"
        )
        assert (await client.get(ME, headers={"Authorization": f"Bearer {key}"})).status_code == 401
        expect.seen(key, key[9:])


async def test_a_reused_refresh_token_ends_the_session_and_is_logged_as_an_error(
    app: FastAPI, runtime: Runtime, security_log: SecurityLog
) -> None:
    email = f"refresher.{uuid.uuid4().hex[:6]}@example.com"
    user_id = await create_user(runtime, Role.AGENT, email=email)
    async with _client(app) as client:
        first = await _login(client, email)
        tokens = first
        for _ in range(2):  # two rotations: the first token is no longer the latest used one
            rotated = await client.post(
                TOKEN,
                data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            )
            assert rotated.status_code == 200, rotated.text
            tokens = rotated.json()
        assert security_log.lines_since_last_read() == [], "a rotation is no security event"
        expect = Expect(
            security_log, "refresh_token_reused", "pd_prime_auth_failures", reason="token_reused"
        )
        stolen = first["refresh_token"]
        reused = await client.post(
            TOKEN, data={"grant_type": "refresh_token", "refresh_token": stolen}
        )
        assert reused.json()["code"] == "auth.refresh_token_reused"
        event = expect.seen(stolen, tokens["refresh_token"], email)
        assert (event["reason"], event["user_id"]) == ("session_revoked", str(user_id))
        assert event["session_id"] is not None
        assert _level(event) == "error"
        # The session really ended: the newest access token stops working.
        me = await client.get(ME, headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == 401


async def test_a_client_failing_to_authenticate_is_logged_by_its_id(
    app: FastAPI, security_log: SecurityLog
) -> None:
    client_id, secret = str(uuid.uuid4()), "not-the-secret-" + uuid.uuid4().hex
    async with _client(app) as client:
        expect = Expect(
            security_log, "client_auth_failed", "pd_prime_auth_failures", reason="client_invalid"
        )
        refused = await client.post(
            TOKEN,
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )
        assert refused.status_code == 401
        event = expect.seen(secret)
        assert (event["reason"], event["client_id"]) == ("invalid_client", client_id)


async def test_a_rate_limit_refusal_names_the_limit_that_refused(
    runtime: Runtime, security_log: SecurityLog
) -> None:
    assert runtime.settings.database_url is not None
    settings = make_settings(runtime.settings.database_url, rate_limit_login_per_client="2/minute")
    limiter = RateLimiter.from_settings(settings, namespace=f"test-{uuid.uuid4().hex}")
    app = create_app(runtime=dataclasses.replace(runtime, settings=settings, limiter=limiter))
    try:
        async with _client(app) as client:
            for _ in range(2):
                wrong = await client.post(TOKEN, data=_password("a@example.com", "x"))
                assert wrong.status_code == 401
            expect = Expect(
                security_log, "rate_limited", "pd_prime_rate_limit_rejections", scope="login"
            )
            limited = await client.post(TOKEN, data=_password("a@example.com", "x"))
            assert limited.status_code == 429
            event = expect.seen("a@example.com")
    finally:
        await limiter.close()
    assert (event["scope"], event["limit"]) == ("login", "login-client")
    assert (event["method"], event["route"]) == ("POST", TOKEN)
    assert event["retry_after"] == int(limited.headers["retry-after"])
    assert event["client_network"] == PEER_NETWORK
