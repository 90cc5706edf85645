"""What a scraper sees: every family of the catalogue, the bearer token, the internal listen
address, the figures read from the database at scrape time, and a scrape that still answers
when the database is down. Pool figures move as connections are taken, held and refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from structlog.testing import capture_logs

from pd_prime_demo import __version__
from pd_prime_demo.core.cache import MemoryCache
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.database import Database, migration_head
from pd_prime_demo.core.metrics_server import parse_listen, serve_metrics
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.telemetry import REGISTRY
from pd_prime_demo.main import create_app
from pd_prime_demo.operations import metrics as operations_metrics
from pd_prime_demo.operations import readiness
from pd_prime_demo.operations.metrics import BackgroundFigures, database_families
from pd_prime_demo.operations.service import JOB_STATUSES, KNOWN_QUEUES
from pd_prime_demo.webhooks.service.deliver import OUTCOMES
from pd_prime_demo.worker import BUSINESS_QUEUES, JOB_OUTCOMES, WEBHOOK_QUEUES, queue_app

TOKEN = "scrape-t0k3n"
DOWN = "postgresql+asyncpg://postgres@127.0.0.1:1/nowhere"
HEAD = migration_head() or "none"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(exposition: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


@pytest.fixture
async def scraper(runtime: Runtime) -> AsyncIterator[AsyncClient]:
    runtime.settings = runtime.settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    transport = ASGITransport(app=create_app(runtime=runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def scrape(client: AsyncClient) -> str:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def test_a_scrape_after_traffic_has_every_family_of_the_catalogue(
    scraper: AsyncClient,
) -> None:
    await scraper.get("/health")
    exposition = await scrape(scraper)
    described = {
        f.name: (f.type, f.documentation) for f in text_string_to_metric_families(exposition)
    }
    for family in REGISTRY.collect():
        assert described.get(family.name) == (family.type, family.documentation), family.name
    found = samples(exposition)
    assert value(found, "pd_prime_database_up") == 1
    assert value(found, "pd_prime_build_info", version=__version__, migration_head=HEAD) == 1
    # Read from the database: both states are always there, and each family once (not
    # summed with a stale copy from the catalogue's never-set gauge).
    assert value(found, "pd_prime_webhook_subscriptions", state="disabled") is not None
    assert value(found, "pd_prime_webhook_subscriptions", state="active") is not None
    assert exposition.count("# HELP pd_prime_database_up ") == 1


async def test_request_counters_move_between_scrapes(scraper: AsyncClient) -> None:
    route = {"method": "GET", "route": "/health", "status": "200"}
    before = value(samples(await scrape(scraper)), "pd_prime_http_requests_total", **route) or 0
    for _ in range(3):
        await scraper.get("/health")
    after = value(samples(await scrape(scraper)), "pd_prime_http_requests_total", **route)
    assert after == before + 3


async def test_metrics_wants_the_bearer_token_and_is_absent_without_one(
    runtime: Runtime, scraper: AsyncClient
) -> None:
    with capture_logs() as logs:
        assert (await scraper.get("/metrics")).status_code == 401
        wrong = await scraper.get("/metrics", headers={"Authorization": "Bearer nope"})
        await scrape(scraper)
    assert wrong.status_code == 401
    # Each refused attempt is one security event; the scrape with the token is none.
    events = [line for line in logs if line.get("event") == "security"]
    assert [(e["event_type"], e["reason"], e["route"]) for e in events] == [
        ("token_invalid", "metrics_token", "/metrics")
    ] * 2
    assert wrong.headers["content-type"] == "application/problem+json"
    runtime.settings = runtime.settings.model_copy(update={"metrics_token": None})
    transport = ASGITransport(app=create_app(runtime=runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        hidden = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert hidden.status_code == 404


async def test_a_dead_letter_and_an_overdue_job_show_in_the_queue_figures(
    scraper: AsyncClient, connection: AsyncConnection
) -> None:
    dead = {"queue": "default", "status": "failed"}
    before = value(samples(await scrape(scraper)), "pd_prime_jobs", **dead) or 0
    await connection.execute(
        text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, scheduled_at) "
            "VALUES ('default', 'test:dead', '{}', 'failed', now() - interval '1 hour'), "
            "('default', 'test:late', '{}', 'todo', now() - interval '10 minutes')"
        )
    )
    found = samples(await scrape(scraper))
    assert value(found, "pd_prime_jobs", **dead) == before + 1
    assert (value(found, "pd_prime_jobs", queue="default", status="todo") or 0) >= 1
    age = value(found, "pd_prime_jobs_oldest_due_age_seconds")
    assert age is not None
    assert age >= 600


async def test_a_fresh_scrape_has_a_zero_for_every_series_an_alert_watches_rise(
    runtime: Runtime, scraper: AsyncClient
) -> None:
    # A series appearing from nothing at 1 is no rise to delta() or increase(): the first dead
    # letter, disabled subscription or failed job must move a series that was already there.
    assert set(KNOWN_QUEUES) == {*BUSINESS_QUEUES, *WEBHOOK_QUEUES}
    app = queue_app(runtime)
    found = samples(await scrape(scraper))
    for queue in KNOWN_QUEUES:
        for status in JOB_STATUSES:
            assert value(found, "pd_prime_jobs", queue=queue, status=status) == 0, (queue, status)
    for outcome in OUTCOMES:
        assert value(found, "pd_prime_webhook_deliveries_total", outcome=outcome) is not None
    for task in app.tasks.values():
        for outcome in JOB_OUTCOMES:
            runs = value(found, "pd_prime_job_runs_total", task=task.name, outcome=outcome)
            assert runs is not None, (task.name, outcome)


async def test_a_queue_the_worker_does_not_know_is_counted_with_its_zeros(
    scraper: AsyncClient, connection: AsyncConnection
) -> None:
    await connection.execute(
        text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status) "
            "VALUES ('legacy', 'test:old', '{}', 'failed')"
        )
    )
    found = samples(await scrape(scraper))
    assert value(found, "pd_prime_jobs", queue="legacy", status="failed") == 1
    assert value(found, "pd_prime_jobs", queue="legacy", status="todo") == 0


async def test_a_saturated_pool_is_not_a_database_down(
    database_url: str, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Waits shortened so the test is quick; the verdicts are what an operator sees.
    monkeypatch.setattr(readiness, "CHECK_TIMEOUT_SECONDS", 0.3)
    monkeypatch.setattr(operations_metrics, "DEADLINE_SECONDS", 0.3)
    db = Database.connect(database_url, pool_size=1, max_overflow=0)
    cache, settings = MemoryCache(), runtime.settings
    try:
        async with db.sessionmaker() as busy:
            await busy.connection()  # the pool's one connection: held, the database is fine
            answer = await readiness.check_readiness(db, cache, settings)
            up = [f for f in await database_families(db) if f.name == "pd_prime_database_up"]
        assert answer.status == "degraded"
        database = answer.checks["database"]
        assert database.detail == "pool saturated: 1 of 1 connections in use"
        assert (database.ok, database.gating) == (False, False)
        # Neither up nor down: the scrape could not tell, the pool figures say why.
        assert [family.samples for family in up] == [[]]
        released = await readiness.check_readiness(db, cache, settings)
        assert released.checks["database"].ok
        (again,) = [f for f in await database_families(db) if f.name == "pd_prime_database_up"]
        assert [sample.value for sample in again.samples] == [1]
    finally:
        await db.dispose()


async def test_unpublished_events_are_counted(
    scraper: AsyncClient, connection: AsyncConnection
) -> None:
    before = value(samples(await scrape(scraper)), "pd_prime_outbox_unpublished")
    assert before is not None
    await connection.execute(
        text(
            "INSERT INTO outbox_events (topic, aggregate_type, aggregate_id, payload, occurred_at) "
            "VALUES ('test.happened', 'test', 'x', '{}', now())"
        )
    )
    after = value(samples(await scrape(scraper)), "pd_prime_outbox_unpublished")
    assert after == before + 1


def _down(runtime: Runtime) -> tuple[Runtime, Database]:
    db = Database(create_async_engine(DOWN))
    broken = Runtime(
        settings=runtime.settings,
        db=db,
        cache=runtime.cache,
        cipher=runtime.cipher,
        signer=runtime.signer,
        passwords=runtime.passwords,
        queue=runtime.queue,
    )
    return broken, db


async def test_with_the_database_down_a_scrape_still_answers_and_says_so(
    runtime: Runtime,
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    broken, db = _down(runtime)
    app: FastAPI = create_app(runtime=broken)
    try:
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
            exposition = await scrape(client)
    finally:
        await db.dispose()
    found = samples(exposition)
    assert value(found, "pd_prime_database_up") == 0
    # The database's figures are absent (not zero, not stale), their families still described.
    assert not [name for name, _ in found if name.startswith(("pd_prime_jobs", "pd_prime_integ"))]
    assert "# HELP pd_prime_jobs " in exposition
    assert value(found, "pd_prime_build_info", version=__version__, migration_head=HEAD) == 1


def test_key_retirement_dates_are_exported(settings: Settings) -> None:
    from datetime import UTC, datetime

    from pd_prime_demo.operations.metrics import settings_families

    retiring = datetime(2031, 1, 2, tzinfo=UTC)
    configured = settings.model_copy(
        update={"jwt_key_retire_at": {"old-es": retiring}, "oidc_rsa_key_retire_at": {}}
    )
    [_, keys] = settings_families(configured)
    assert [(s.labels, s.value) for s in keys.samples] == [
        ({"purpose": "jwt", "kid": "old-es"}, retiring.timestamp())
    ]


@contextmanager
def _served(settings: Settings) -> Iterator[str]:
    figures = BackgroundFigures(settings)
    server = serve_metrics("127.0.0.1:0", figures)
    assert server is not None
    try:
        yield f"http://127.0.0.1:{server.port}/metrics"
    finally:
        server.close()
        figures.close()


async def test_the_metrics_listen_address_serves_without_a_token(
    committed_runtime: Runtime,
) -> None:
    # A database of its own: the listener records each scrape (CC7.2's evidence), committed,
    # which must not reach the database the other tests share.
    settings = committed_runtime.settings
    with _served(settings) as url:
        response = await asyncio.to_thread(httpx.get, url, timeout=10)
    assert response.status_code == 200
    found = samples(response.text)
    assert value(found, "pd_prime_database_up") == 1
    assert value(found, "pd_prime_webhook_subscriptions", state="active") is not None
    with _served(settings.model_copy(update={"database_url": DOWN})) as url:
        down = await asyncio.to_thread(httpx.get, url, timeout=10)
    assert down.status_code == 200
    assert value(samples(down.text), "pd_prime_database_up") == 0


def test_a_listen_address_is_host_and_port() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    # A tokenless port: no host is this machine only; every interface must be named.
    assert parse_listen(":9464") == ("127.0.0.1", 9464)
    assert parse_listen("0.0.0.0:9464") == ("0.0.0.0", 9464)  # noqa: S104
    assert parse_listen("[::1]:9464") == ("::1", 9464)
    for bad in ("9464x", "localhost", "host:", "host:70000"):
        with pytest.raises(ValueError, match="host:port"):
            parse_listen(bad)


def _pool(name: str) -> float:
    found = REGISTRY.get_sample_value(name)
    assert found is not None, name
    return found


async def test_pool_figures_follow_checkouts_waits_and_timeouts(database_url: str) -> None:
    size, timeouts = (
        _pool("pd_prime_db_pool_connections_max"),
        _pool("pd_prime_db_pool_timeouts_total"),
    )
    waits = _pool("pd_prime_db_pool_wait_seconds_count")
    db = Database(create_async_engine(database_url, pool_size=1, max_overflow=1, pool_timeout=0.1))
    try:
        assert _pool("pd_prime_db_pool_connections_max") == size + 2
        in_use = _pool("pd_prime_db_pool_connections_in_use")
        async with db.engine.connect() as first, db.engine.connect() as second:
            await first.execute(text("SELECT 1"))
            await second.execute(text("SELECT 1"))
            assert _pool("pd_prime_db_pool_connections_in_use") == in_use + 2
            with pytest.raises(exc.TimeoutError):
                async with db.engine.connect():
                    pass
            assert _pool("pd_prime_db_pool_timeouts_total") == timeouts + 1
        assert _pool("pd_prime_db_pool_connections_in_use") == in_use
        assert _pool("pd_prime_db_pool_wait_seconds_count") == waits + 3
    finally:
        await db.dispose()


async def test_requests_in_flight_count_the_request_being_served_and_only_while_it_is(
    scraper: AsyncClient,
) -> None:
    before = REGISTRY.get_sample_value("pd_prime_http_requests_in_flight")
    assert before is not None
    # The scrape is itself a request in flight while it is answered.
    assert value(samples(await scrape(scraper)), "pd_prime_http_requests_in_flight") == before + 1
    assert REGISTRY.get_sample_value("pd_prime_http_requests_in_flight") == before
