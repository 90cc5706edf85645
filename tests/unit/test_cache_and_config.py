from __future__ import annotations

import json
import os
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from pd_prime_demo.core.cache import MemoryCache, RedisCache, create_cache
from pd_prime_demo.core.config import Environment, Settings
from pd_prime_demo.core.database import to_async_url
from pd_prime_demo.core.keys import load_key_material


async def _exercise(cache: MemoryCache | RedisCache) -> None:
    assert await cache.ping()
    assert await cache.count("k") == 0
    assert await cache.hit("k", 60) == 1
    assert await cache.hit("k", 60) == 2
    assert await cache.count("k") == 2
    await cache.clear("k")
    assert await cache.count("k") == 0


async def test_memory_cache() -> None:
    cache = MemoryCache()
    await _exercise(cache)
    assert await cache.hit("short", 0) == 1
    assert await cache.hit("short", 0) == 1, "an expired window starts again"
    await cache.close()


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="REDIS_URL not set")
async def test_redis_cache_against_real_redis() -> None:
    cache = create_cache(os.environ["REDIS_URL"], namespace=f"test-{uuid.uuid4().hex}")
    assert isinstance(cache, RedisCache)
    await _exercise(cache)
    await cache.close()


async def test_unreachable_redis_is_not_ready() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0")
    assert await cache.ping() is False
    await cache.close()


def test_production_refuses_to_run_without_keys(tmp_path: Path) -> None:
    settings = Settings(env=Environment.PRODUCTION, data_dir=tmp_path)
    with pytest.raises(RuntimeError, match="must be configured"):
        load_key_material(settings)
    assert not settings.embedded_database_allowed


def test_demo_generates_keys_once_and_reuses_them(tmp_path: Path) -> None:
    settings = Settings(env=Environment.DEMO, data_dir=tmp_path)
    first = load_key_material(settings)
    key_file = tmp_path / "secrets" / "local-keys.json"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert load_key_material(settings) == first
    assert set(json.loads(key_file.read_text())) >= {"jwt_keys", "pii_keys"}


def test_database_url_spellings() -> None:
    assert to_async_url("postgres://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert to_async_url("postgresql+psycopg://h/db").startswith("postgresql+asyncpg://")
    with pytest.raises(ValueError, match="PostgreSQL only"):
        to_async_url("mysql://h/db")


def test_keys_from_environment_json() -> None:
    settings = Settings.model_validate({"jwt_keys": '{"a": "pem"}', "pii_keys": "", "env": "test"})
    assert settings.jwt_keys["a"].get_secret_value() == "pem"
    assert settings.pii_keys == {}


def test_a_cursor_the_database_cannot_take_is_refused_not_sent() -> None:
    """Hand-made cursors: year 1 in a far zone (year 0 in UTC), an id beyond 64 bits."""
    from pd_prime_demo.core.pagination import decode, encode

    far = encode(["0001-01-01T00:00:00+14:00", "00000000-0000-0000-0000-000000000000"])
    assert decode(far, [datetime, uuid.UUID]) is None
    assert decode(encode(["99999999999999999999999"]), [int]) is None
    assert decode(encode([str(2**63 - 1)]), [int]) == [2**63 - 1]
    fine = encode(["2026-12-01T10:00:00+00:00", "00000000-0000-0000-0000-000000000000"])
    assert decode(fine, [datetime, uuid.UUID]) is not None
