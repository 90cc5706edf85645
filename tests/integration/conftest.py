"""Fixtures for tests that run pd-prime for real: a scratch database and the environment."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from pd_prime_demo import cli
from pd_prime_demo.bench.api import free_port, server_command
from pd_prime_demo.core.config import get_settings
from tests.conftest import KEYS, create_scratch_database, drop_scratch_database


@pytest.fixture
def cli_env(server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = asyncio.run(create_scratch_database(server_url))
    for name, value in {
        **KEYS,
        "DATABASE_URL": url,
        "PD_PRIME_ENV": "development",
        "PD_PRIME_DATA_DIR": str(tmp_path),
        "PD_PRIME_ARGON2_TIME_COST": "1",
        "PD_PRIME_ARGON2_MEMORY_COST_KIB": "64",
        "PD_PRIME_ARGON2_PARALLELISM": "1",
        "PD_PRIME_LOG_LEVEL": "WARNING",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    asyncio.run(drop_scratch_database(server_url, url))


@pytest.fixture
def served(cli_env: str) -> Iterator[str]:
    """The production app on the scratch database, with the demo data; its base URL."""
    for command in (["migrate"], ["seed"]):
        result = CliRunner().invoke(cli.app, command)
        assert result.exit_code == 0, result.output
    launch = server_command(
        free_port(), workers=1, callgrind=False, factory="pd_prime_demo.main:app_factory"
    )
    server = subprocess.Popen(launch.argv, env=dict(os.environ))  # noqa: S603 - our module
    base = f"http://127.0.0.1:{launch.port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("the server did not become ready")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
