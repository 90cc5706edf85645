"""Rate limits on the real server: two server processes behind a (simulated) trusted proxy
count in one Redis, so a client gets its quota once, not once per process; WebSocket connects
are limited too, answered with a 429 handshake.

The proxy is this test: the server trusts 127.0.0.1 and each "client" is an address sent in
X-Forwarded-For, random per run so that runs sharing the Redis never meet."""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
from typer.testing import CliRunner
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from pd_prime_demo import cli
from pd_prime_demo.bench.api import free_port, server_command

REDIS_URL = os.environ.get("REDIS_URL")  # read before cli_env takes it out of the environment
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="needs Redis")


def _client() -> str:
    """A documentation-range IPv6 address of a /64 of its own."""
    return f"2001:db8:{random.randrange(1 << 16):x}:{random.randrange(1 << 16):x}::1"


def _wait_ready(base: str) -> None:
    for _ in range(150):
        try:
            if httpx.get(f"http://{base}/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("a server did not become ready")


@pytest.fixture
def two_servers(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """Two server processes on one database and one Redis, with strict limits."""
    assert REDIS_URL is not None
    for name, value in {
        "REDIS_URL": REDIS_URL,
        "PD_PRIME_TRUSTED_PROXIES": "127.0.0.1/32",
        "PD_PRIME_RATE_LIMIT_LOGIN_PER_CLIENT": "4/minute",
        "PD_PRIME_RATE_LIMIT_REALTIME_PER_CLIENT": "2/minute",
    }.items():
        monkeypatch.setenv(name, value)
    for command in (["migrate"], ["seed"]):
        result = CliRunner().invoke(cli.app, command)
        assert result.exit_code == 0, result.output
    launches = [
        server_command(
            free_port(), workers=1, callgrind=False, factory="pd_prime_demo.main:app_factory"
        )
        for _ in range(2)
    ]
    servers = [
        subprocess.Popen(launch.argv, env=dict(os.environ))  # noqa: S603 - our module
        for launch in launches
    ]
    try:
        one, two = (f"127.0.0.1:{launch.port}" for launch in launches)
        _wait_ready(one)
        _wait_ready(two)
        yield one, two
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)


def test_processes_share_one_quota_per_client_and_sockets_are_limited(
    two_servers: tuple[str, str],
) -> None:
    first, second = _client(), _client()
    form = {"grant_type": "password", "username": "nobody@example.com", "password": "wrong"}
    answers = [
        httpx.post(
            f"http://{two_servers[n % 2]}/api/v1/auth/token",
            data=form,
            headers={"X-Forwarded-For": first},
        )
        for n in range(8)
    ]
    # Counted once across both processes: 4 tries, then 429 (each alone would allow 4).
    assert [a.status_code for a in answers] == [401] * 4 + [429] * 4, [a.text for a in answers]
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert answers[-1].json()["code"] == "rate_limit.exceeded"
    other = httpx.post(
        f"http://{two_servers[0]}/api/v1/auth/token",
        data=form,
        headers={"X-Forwarded-For": second},
    )
    assert other.status_code == 401, "another client behind the proxy has its own quota"

    for server in two_servers:  # let in, then closed by the app for the bad ticket
        url = f"ws://{server}/api/v1/realtime/ws?ticket=not-a-ticket"
        with (
            connect(url, additional_headers={"X-Forwarded-For": first}) as socket,
            pytest.raises(ConnectionClosed),
        ):
            socket.recv(timeout=10)
    with pytest.raises(InvalidStatus) as refused:
        connect(
            f"ws://{two_servers[0]}/api/v1/realtime/ws?ticket=not-a-ticket",
            additional_headers={"X-Forwarded-For": first},
        )
    assert refused.value.response.status_code == 429
    assert int(refused.value.response.headers["Retry-After"]) >= 1
