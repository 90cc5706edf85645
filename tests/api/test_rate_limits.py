"""Rate limits: per client address, credential and account, by route class; trusted proxies;
the 429 and its headers; failing closed (login) and open (reads) when the counters are gone.

Each test builds an app with strict limits of its own on the test's runtime, counting in Redis
when REDIS_URL is set (in a namespace of the test's own), in memory otherwise."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fastapi import Depends, FastAPI, Request
from httpx import ASGITransport, AsyncClient, Response
from limits import parse
from structlog.testing import capture_logs

from pd_prime_demo.api.rate_limit import client_address, limit_account, login_type_limit
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.ratelimit import Check, RateLimiter, Rule
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.conftest import make_settings
from tests.factories import PASSWORD, create_user

TOKEN = "/api/v1/auth/token"
ME = "/api/v1/users/me"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens once it is closed


def _limited_runtime(runtime: Runtime, **limits: Any) -> Runtime:
    assert runtime.settings.database_url is not None
    settings = make_settings(runtime.settings.database_url, **limits)
    return dataclasses.replace(
        runtime,
        settings=settings,
        limiter=RateLimiter.from_settings(settings, namespace=f"test-{uuid.uuid4().hex}"),
    )


@pytest.fixture
async def limited(runtime: Runtime) -> AsyncIterator[Callable[..., Any]]:
    """``limited(**settings)`` -> a function opening clients (by peer address) of one app."""
    opened: list[Runtime] = []

    def build(**limits: Any) -> Callable[..., Any]:
        rt = _limited_runtime(runtime, **limits)
        opened.append(rt)
        app = create_app(runtime=rt)

        @asynccontextmanager
        async def client(peer: str = "127.0.0.1") -> AsyncIterator[AsyncClient]:
            transport = ASGITransport(app=app, client=(peer, 50000), raise_app_exceptions=False)
            async with AsyncClient(transport=transport, base_url="http://testserver") as c:
                yield c

        client.app = app  # type: ignore[attr-defined]
        return client

    yield build
    for rt in opened:
        await rt.limiter.close()


async def _wrong_login(client: AsyncClient, email: str, **headers: str) -> Response:
    return await client.post(
        TOKEN,
        data={"grant_type": "password", "username": email, "password": "wrong-password"},
        headers=headers,
    )


def _assert_limited(response: Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "rate_limit.exceeded"
    assert int(response.headers["retry-after"]) >= 1
    assert "ratelimit-policy" in response.headers
    assert ";r=0;" in response.headers["ratelimit"]


async def test_wrong_logins_across_many_accounts_from_one_client_are_limited(
    limited: Callable[..., Any],
) -> None:
    """The hole: 200 wrong logins across 200 accounts from one client were never limited."""
    client = limited(rate_limit_login_per_client="5/minute")
    async with client("198.51.100.10") as attacker, client("198.51.100.20") as other:
        answers = [await _wrong_login(attacker, f"victim{n}@example.com") for n in range(6)]
        assert [a.status_code for a in answers[:5]] == [401] * 5
        _assert_limited(answers[5])
        assert answers[5].headers["ratelimit-policy"] == '"login-client";q=5;w=60'
        retry = int(answers[5].headers["retry-after"])
        assert 1 <= retry <= 60
        # Another client is not held up by the first.
        assert (await _wrong_login(other, "victim0@example.com")).status_code == 401


async def test_production_defaults_limit_the_holes_figures() -> None:
    """The defaults stop 200 logins from one client and 2,000 reads by one token in a minute."""
    # The declared defaults (the suite's environment sets generous ones for its servers).
    per_minute = {}
    for name in ("login_per_client", "read_per_credential", "login_per_account"):
        item = parse(Settings.model_fields[f"rate_limit_{name}"].default)
        per_minute[name] = item.amount * 60 / item.get_expiry()
    assert per_minute["login_per_client"] < 200
    assert per_minute["read_per_credential"] < 2000
    assert per_minute["login_per_account"] <= per_minute["login_per_client"]


async def test_reads_by_one_token_are_limited_per_credential(
    limited: Callable[..., Any], runtime: Runtime
) -> None:
    client = limited(rate_limit_read_per_credential="5/minute")
    email = f"reader-{uuid.uuid4().hex[:6]}@example.com"
    await create_user(runtime, Role.AGENT, email=email)
    async with client() as c:
        tokens = [
            (
                await c.post(
                    TOKEN, data={"grant_type": "password", "username": email, "password": PASSWORD}
                )
            ).json()["access_token"]
            for _ in range(2)
        ]
        first, second = ({"Authorization": f"Bearer {t}"} for t in tokens)
        reads = [await c.get(ME, headers=first) for _ in range(5)]
        assert all(r.status_code == 200 for r in reads)
        assert reads[0].headers["ratelimit"].endswith('"read-credential";r=4;t=60')
        assert '"read-client";q=100000;w=60' in reads[0].headers["ratelimit-policy"]
        _assert_limited(await c.get(ME, headers=first))
        # The same user's other login, from the same address, still reads.
        assert (await c.get(ME, headers=second)).status_code == 200


async def test_writes_and_reads_are_separate_classes(limited: Callable[..., Any]) -> None:
    client = limited(rate_limit_write_per_client="2/minute")
    async with client() as c:
        for _ in range(2):
            assert (await c.post("/api/v1/customers", json={})).status_code == 401
        _assert_limited(await c.post("/api/v1/customers", json={}))
        assert (await c.get("/api/v1/customers")).status_code == 401  # reads still go
        assert (await c.get("/health")).status_code == 200  # probes are never limited


async def test_one_account_is_limited_per_client_without_locking_its_owner_out(
    limited: Callable[..., Any],
) -> None:
    client = limited(rate_limit_login_per_account="3/minute")
    async with client("198.51.100.30") as attacker, client("198.51.100.40") as owner:
        for _ in range(3):
            assert (await _wrong_login(attacker, "Target@Example.com ")).status_code == 401
        limited_answer = await _wrong_login(attacker, "target@example.com")
        _assert_limited(limited_answer)
        assert limited_answer.json()["policy"] == "login-account"
        # Other accounts from the attacker, and the owner from elsewhere, are not held up.
        assert (await _wrong_login(attacker, "someone@example.com")).status_code == 401
        assert (await _wrong_login(owner, "target@example.com")).status_code == 401


async def test_clients_behind_a_trusted_proxy_are_limited_separately(
    limited: Callable[..., Any],
) -> None:
    client = limited(rate_limit_login_per_client="2/minute", trusted_proxies="10.0.0.0/8")
    async with client("10.1.2.3") as proxy:
        for _ in range(2):
            assert (
                await _wrong_login(proxy, "a@example.com", **{"X-Forwarded-For": "203.0.113.1"})
            ).status_code == 401
        _assert_limited(
            await _wrong_login(proxy, "a@example.com", **{"X-Forwarded-For": "203.0.113.1"})
        )
        # A second client behind the same proxy has its own window; what a client writes
        # left of the proxy's entry is not believed (here it claims to be the first client).
        for _ in range(2):
            second = await _wrong_login(
                proxy, "b@example.com", **{"X-Forwarded-For": "203.0.113.1, 203.0.113.2"}
            )
            assert second.status_code == 401
        _assert_limited(
            await _wrong_login(proxy, "b@example.com", **{"X-Forwarded-For": "203.0.113.2"})
        )


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    limited: Callable[..., Any],
) -> None:
    client = limited(rate_limit_login_per_client="2/minute", trusted_proxies="10.0.0.0/8")
    async with client("198.51.100.50") as spoofer:
        answers = [
            await _wrong_login(spoofer, "a@example.com", **{"X-Forwarded-For": f"203.0.113.{n}"})
            for n in range(3)
        ]
        assert [a.status_code for a in answers[:2]] == [401, 401]
        _assert_limited(answers[2])


def test_client_address_walks_forwarded_for_from_the_right() -> None:
    trusted = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.168.0.0/16")]
    # Two trusted hops: the client is the first untrusted entry from the right.
    assert client_address("10.0.0.1", ["6.6.6.6, 203.0.113.9, 192.168.1.1"], trusted) == (
        "203.0.113.9"
    )
    # Several header lines are one list.
    assert client_address("10.0.0.1", ["6.6.6.6", "203.0.113.9"], trusted) == "203.0.113.9"
    # Not a proxy of ours: its header is ignored.
    assert client_address("203.0.113.7", ["1.1.1.1"], trusted) == "203.0.113.7"
    # Garbage a trusted proxy passed on: the last trusted hop is what we know.
    assert client_address("10.0.0.1", ["not-an-ip"], trusted) == "10.0.0.1"
    # No header: the proxy itself.
    assert client_address("10.0.0.1", [], trusted) == "10.0.0.1"
    # IPv6 clients are counted per /64; IPv4-mapped addresses as IPv4.
    assert client_address("2001:db8::1:2", [], []) == "2001:db8::/64"
    assert client_address("::ffff:198.51.100.1", [], []) == "198.51.100.1"


async def test_login_fails_closed_and_reads_stay_up_when_the_counters_are_gone(
    limited: Callable[..., Any], client: AsyncClient, runtime: Runtime
) -> None:
    email = f"outage-{uuid.uuid4().hex[:6]}@example.com"
    await create_user(runtime, Role.AGENT, email=email)
    tokens = (
        await client.post(
            TOKEN, data={"grant_type": "password", "username": email, "password": PASSWORD}
        )
    ).json()
    broken = limited(rate_limit_storage_url=f"redis://127.0.0.1:{_closed_port()}/0")
    async with broken() as c:
        login = await c.post(
            TOKEN, data={"grant_type": "password", "username": email, "password": PASSWORD}
        )
        assert login.status_code == 503, login.text
        assert login.json()["code"] == "rate_limit.unavailable"
        assert int(login.headers["retry-after"]) > 0
        revoke = await c.post("/api/v1/auth/revoke", data={"token": tokens["refresh_token"]})
        assert revoke.status_code == 503
        with capture_logs() as logs:
            me = await c.get(ME, headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == 200, me.text
        assert "ratelimit" not in me.headers  # nothing was counted
        assert any(
            e["event"] == "rate_limit.storage_unavailable" and e["log_level"] == "warning"
            for e in logs
        ), logs
        # A route that opts into the login type fails closed as well.
        app: FastAPI = broken.app

        @app.post("/api/v1/test-opted-in", dependencies=[Depends(login_type_limit)])
        async def opted_in() -> dict[str, str]:
            return {"status": "done"}

        refused = await c.post("/api/v1/test-opted-in")
        assert refused.status_code == 503
        assert refused.json()["code"] == "rate_limit.unavailable"
    # The revocation was refused before it happened: the refresh token still works.
    refreshed = await client.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 200


async def test_a_route_opts_into_the_login_type_class(limited: Callable[..., Any]) -> None:
    client = limited(
        rate_limit_login_per_client="2/minute", rate_limit_login_per_account="1/minute"
    )
    app: FastAPI = client.app

    @app.post("/api/v1/test-reset", dependencies=[Depends(login_type_limit)])
    async def reset(request: Request, email: str) -> dict[str, str]:
        await limit_account(request, email)
        return {"status": "sent"}

    async with client() as c:
        assert (await c.post("/api/v1/test-reset", params={"email": "a@x.test"})).status_code == 200
        second = await c.post("/api/v1/test-reset", params={"email": "a@x.test"})
        _assert_limited(second)
        assert second.json()["policy"] == "login-account"
        _assert_limited(await c.post("/api/v1/test-reset", params={"email": "b@x.test"}))


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis")
async def test_workers_share_counters_in_redis() -> None:
    """Two limiters (two worker processes) on one Redis count in the same windows."""
    url = os.environ["REDIS_URL"]
    namespace = f"test-{uuid.uuid4().hex}"
    one, two = (RateLimiter(url, namespace=namespace, timeout=1) for _ in range(2))
    rule = Rule.of("login-client", "3/minute")
    check = [Check(rule, "203.0.113.77")]
    try:
        assert one.shared
        assert two.shared
        results = [await limiter.hit(check) for limiter in (one, two, one, two)]
        assert [r[0].allowed for r in results] == [True, True, True, False]
        assert [r[0].remaining for r in results] == [2, 1, 0, 0]
    finally:
        await one.close()
        await two.close()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/auth/mfa/webauthn/options", {"mfa_token": "x" * 32}),
        ("/api/v1/auth/mfa/webauthn", {"mfa_token": "x" * 32, "credential": {"id": "abc"}}),
    ],
)
async def test_the_passkey_mfa_step_is_login_type(
    limited: Callable[..., Any], path: str, body: dict[str, Any]
) -> None:
    """Regression (review S5): the passkey routes of a login's second step were limited as
    ordinary writes, not as guesses at a login."""
    client = limited(rate_limit_login_per_client="2/minute")
    async with client("198.51.100.61") as guesser:
        answers = [await guesser.post(path, json=body) for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [401, 401], [a.text for a in answers]
    _assert_limited(answers[2])
    assert answers[2].json()["policy"] == "login-client"


async def test_single_sign_on_routes_are_login_type(limited: Callable[..., Any]) -> None:
    """Regression (review S5): the SSO start and callback were counted as reads."""
    client = limited(rate_limit_login_per_client="2/minute")
    async with client("198.51.100.62") as c:
        answers = [await c.get("/api/v1/auth/sso/login") for _ in range(3)]
    assert all(a.status_code < 500 for a in answers[:2]), [a.text for a in answers]
    _assert_limited(answers[2])
    assert answers[2].json()["policy"] == "login-client"
