"""Test wiring: a throwaway database on a real PostgreSQL, one rolled-back transaction per test.

With ``DATABASE_URL`` set, a database named ``pd_prime_test_<random>`` is created on that server
for the run and dropped afterwards; without it, the embedded PostgreSQL (pgserver) under
``.pd-prime/pgdata-test`` serves the same purpose. ``REDIS_URL`` switches the cache to Redis.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from pd_prime_demo.core.cache import create_cache
from pd_prime_demo.core.config import Environment, Settings
from pd_prime_demo.core.database import (
    Database,
    EmbeddedPostgres,
    run_migrations_async,
    to_async_url,
)
from pd_prime_demo.core.keys import export_key_material_env, generate_key_material
from pd_prime_demo.core.ratelimit import RateLimiter
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from pd_prime_demo.seed import seed_products
from tests.tracing_support import install_provider, spans

# Before any app configures tracing: spans are recorded only for the tests that read them.
install_provider()
__all__ = ["spans"]

ROOT = Path(__file__).resolve().parent.parent
KEYS = export_key_material_env(generate_key_material())
# Rate limits for the whole suite, which logs many users in from one address within seconds;
# also in the environment, for the servers tests start (tests of a limit set their own).
TEST_RATE_LIMITS = {
    f"rate_limit_{name}": "100000/minute"
    for name in (
        "login_per_client",
        "login_per_account",
        "realtime_per_client",
        "write_per_client",
        "write_per_credential",
        "read_per_client",
        "read_per_credential",
    )
}
# A starved CI machine can take longer than production's 0.5 s for a Redis round trip: the
# suite's limiter waits longer before it fails closed (tests of an unreachable Redis set theirs).
TEST_RATE_LIMITS["rate_limit_storage_timeout_seconds"] = "5"
for _name, _value in TEST_RATE_LIMITS.items():
    os.environ.setdefault(f"PD_PRIME_{_name.upper()}", _value)
# Staff log in with a password alone in the suite's servers too (tests of MFA turn it on).
os.environ.setdefault("PD_PRIME_MFA_REQUIRED_ROLES", "")


def _server_url() -> tuple[str, EmbeddedPostgres | None]:
    if url := os.environ.get("DATABASE_URL"):
        return to_async_url(url), None
    # One embedded server per pytest-xdist worker: each owns its data directory.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    embedded = EmbeddedPostgres(ROOT / ".pd-prime" / (f"test-{worker}" if worker else "test"))
    embedded.start()
    return embedded.ensure_database("postgres"), embedded


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_scratch_database(server_url: str, *, template: str | None = None) -> str:
    """A new empty database, or a copy of ``template`` (a database's URL: PostgreSQL copies
    its files, a fraction of a second against ten or more for migrating and seeding anew)."""
    name = f"pd_prime_test_{uuid.uuid4().hex[:12]}"
    copy_of = f' TEMPLATE "{make_url(template).database}"' if template else ""
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"{copy_of}')
    finally:
        await conn.close()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def migrated_and_seeded(server_url: str) -> str:
    """A new database at the migrations' head with the shipped products (reference data every
    quoting test needs), all committed."""
    url = await create_scratch_database(server_url)
    await run_migrations_async(url)
    db = Database(create_async_engine(url))
    async with db.unit_of_work() as session:
        await seed_products(session)
    await db.dispose()
    return url


async def drop_scratch_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    conn = await asyncpg.connect(_asyncpg_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url, embedded = _server_url()
    yield url
    if embedded is not None:
        embedded.stop()


@pytest.fixture(scope="session")
async def database_url(server_url: str) -> AsyncIterator[str]:
    url = await migrated_and_seeded(server_url)
    yield url
    await drop_scratch_database(server_url, url)


@pytest.fixture(scope="session")
async def template_database_url(server_url: str) -> AsyncIterator[str]:
    """A migrated and seeded database that nothing connects to: the committed runtimes are
    copies of it (CREATE DATABASE ... TEMPLATE needs the template idle)."""
    url = await migrated_and_seeded(server_url)
    yield url
    await drop_scratch_database(server_url, url)


_DATA_DIR = Path(tempfile.mkdtemp(prefix="pd-prime-test-data-"))


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": Environment.TEST,
        "database_url": database_url,
        "redis_url": os.environ.get("REDIS_URL") or None,
        "jwt_keys": KEYS["PD_PRIME_JWT_KEYS"],
        "jwt_active_kid": KEYS["PD_PRIME_JWT_ACTIVE_KID"],
        "pii_keys": KEYS["PD_PRIME_PII_KEYS"],
        "pii_active_kid": KEYS["PD_PRIME_PII_ACTIVE_KID"],
        # RS256 ID tokens (OpenID Connect Core §15.1) are on wherever an RSA key is configured.
        "oidc_rsa_keys": KEYS["PD_PRIME_OIDC_RSA_KEYS"],
        "oidc_rsa_active_kid": KEYS["PD_PRIME_OIDC_RSA_ACTIVE_KID"],
        # Cheap argon2 so the suite is fast; production cost is the default.
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 64,
        "argon2_parallelism": 1,
        "log_json": True,
        # Never the repository's .pd-prime: jobs the suite runs write audit checkpoints, their
        # key and e-mails under the data directory (tests that check one pass their own).
        "data_dir": _DATA_DIR,
        # Issue 13 test defaults (each owner keeps its own lines; tests that check a limit or
        # the MFA requirement set their own values):
        # MFA (H3): staff log in with a password alone; tests/api/test_mfa.py turns it on.
        "mfa_required_roles": [],
        # Rate limits: the suite logs many users in from one address within seconds.
        **TEST_RATE_LIMITS,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_async_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """The test's outer transaction: everything the test does is rolled back at the end."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        try:
            yield conn
        finally:
            await transaction.rollback()


@pytest.fixture
async def runtime(
    settings: Settings, engine: AsyncEngine, connection: AsyncConnection
) -> AsyncIterator[Runtime]:
    db = Database(engine)
    db.bind_to(connection)
    # A data directory per test: an audit checkpoint a job writes inside the rolled-back
    # transaction describes entries that vanish with it, and would fail a later verification.
    own = settings.model_copy(update={"data_dir": Path(tempfile.mkdtemp(dir=_DATA_DIR))})
    runtime = Runtime.create(own, db=db)
    # A namespace per test keeps Redis counters from leaking between tests and runs.
    runtime.cache = create_cache(settings.redis_url, namespace=f"pd-prime-test-{uuid.uuid4().hex}")
    runtime.limiter = RateLimiter.from_settings(
        settings, namespace=f"pd-prime-test-limits-{uuid.uuid4().hex}"
    )
    yield runtime
    await runtime.cache.close()
    await runtime.limiter.close()


@pytest.fixture
async def session(runtime: Runtime) -> AsyncIterator[object]:
    async with runtime.db.sessionmaker() as session:
        yield session


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime=runtime)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def committed_runtime(server_url: str, template_database_url: str) -> AsyncIterator[Runtime]:
    """A runtime on its own scratch database (migrated and seeded, a copy of the template)
    whose units of work really commit."""
    url = await create_scratch_database(server_url, template=template_database_url)
    db = Database(create_async_engine(url, pool_size=10))
    # A data directory of its own too: checkpoints its jobs write describe this database's
    # audit chain, and would fail the verification of any other.
    settings = make_settings(url, redis_url=None, data_dir=Path(tempfile.mkdtemp(dir=_DATA_DIR)))
    runtime = Runtime.create(settings, db=db)
    yield runtime
    await runtime.close()
    await drop_scratch_database(server_url, url)
