"""Fixtures for tests that run pd-prime for real: a scratch database and the environment."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

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
