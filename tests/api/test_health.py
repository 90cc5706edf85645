"""/health/ready as an orchestrator sees it: each gating dependency on its own makes the process
not ready (503, Retry-After, the failing check named), a lagging job queue only degrades it
(200: a backlog must not take every instance out of rotation) unless the operator makes it gate,
and polling is cheap (one round of checks per cache window, whatever the number of pollers)."""

from __future__ import annotations

import asyncio

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from structlog.testing import capture_logs

from pd_prime_demo.core.cache import create_cache
from pd_prime_demo.core.database import migration_head
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from pd_prime_demo.operations.readiness import known_revisions, local_disk_check
from tests.statements import statements


async def _poll(runtime: Runtime, times: int = 1) -> list[tuple[int, dict[str, object], str]]:
    transport = ASGITransport(app=create_app(runtime=runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        responses = await asyncio.gather(*(client.get("/health/ready") for _ in range(times)))
    return [(r.status_code, r.json(), r.headers.get("Retry-After", "")) for r in responses]


def _failing(body: dict[str, object]) -> set[str]:
    checks = body["checks"]
    assert isinstance(checks, dict)
    return {name for name, check in checks.items() if not check["ok"]}


async def test_ready_reports_every_dependency_with_the_queue_figures(runtime: Runtime) -> None:
    [(status, body, retry_after)] = await _poll(runtime)
    assert status == 200, body
    assert body["status"] == "ready"
    assert retry_after == ""
    checks = body["checks"]
    assert isinstance(checks, dict)
    assert {"database", "migrations", "queue"} <= checks.keys()
    assert ("redis" in checks) == bool(runtime.settings.redis_url)
    assert checks["queue"]["figures"]["oldest_due_age_seconds"] >= 0


async def test_an_overdue_job_degrades_the_process_and_gates_it_when_told(
    runtime: Runtime, connection: AsyncConnection
) -> None:
    await connection.execute(
        text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, scheduled_at) "
            "VALUES ('default', 'test:late', '{}', 'todo', now() - interval '10 minutes')"
        )
    )
    settings = runtime.settings.model_copy(update={"ready_max_queue_lag_seconds": 300})
    runtime.settings = settings
    [(status, body, retry_after)] = await _poll(runtime)
    assert (status, body["status"], retry_after) == (200, "degraded", "")
    assert _failing(body) == {"queue"}
    runtime.settings = settings.model_copy(update={"ready_queue_lag_gates": True})
    [(status, body, retry_after)] = await _poll(runtime)
    assert (status, body["status"]) == (503, "not_ready")
    assert int(retry_after) > 0
    assert _failing(body) == {"queue"}
    queue = body["checks"]["queue"]  # type: ignore[index]
    assert "lagging" in queue["detail"]
    assert queue["figures"]["oldest_due_age_seconds"] >= 600
    assert queue["figures"]["todo"] >= 1


async def test_a_job_due_within_the_limit_keeps_the_process_ready(
    runtime: Runtime, connection: AsyncConnection
) -> None:
    await connection.execute(
        text(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args, status, scheduled_at) "
            "VALUES ('default', 'test:on-time', '{}', 'todo', now() - interval '10 seconds')"
        )
    )
    [(status, body, _)] = await _poll(runtime)
    assert status == 200, body
    assert body["checks"]["queue"]["ok"]  # type: ignore[index]


async def test_low_disk_makes_the_process_not_ready(
    runtime: Runtime, connection: AsyncConnection
) -> None:
    data_directory = await connection.scalar(
        text("SELECT setting FROM pg_settings WHERE name = 'data_directory'")
    )
    if local_disk_check(data_directory, 0) is None:
        pytest.skip("the test server's files are not on this machine: no disk to check")
    runtime.settings = runtime.settings.model_copy(
        update={"ready_min_free_disk_bytes": 2**62}  # more than any disk has
    )
    [(status, body, retry_after)] = await _poll(runtime)
    assert status == 503
    assert int(retry_after) > 0
    assert _failing(body) == {"disk"}
    disk = body["checks"]["disk"]  # type: ignore[index]
    assert disk["detail"].startswith("low:")
    assert disk["figures"]["free_bytes"] < disk["figures"]["min_free_bytes"]


async def test_an_unreachable_redis_makes_the_process_not_ready(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    runtime.cache = create_cache("redis://127.0.0.1:1/0")
    try:
        [(status, body, retry_after)] = await _poll(runtime)
    finally:
        await runtime.cache.close()
    assert status == 503
    assert int(retry_after) > 0
    assert _failing(body) == {"redis"}


async def test_pollers_share_one_round_of_checks_per_cache_window(
    runtime: Runtime, connection: AsyncConnection
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"ready_cache_seconds": 60})
    transport = ASGITransport(app=create_app(runtime=runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        with statements(connection) as seen:
            concurrent = await asyncio.gather(*(client.get("/health/ready") for _ in range(5)))
            later = await client.get("/health/ready")
    assert [r.status_code for r in concurrent] == [200] * 5
    assert later.status_code == 200
    assert seen["SELECT alembic_version"] == 1, seen
    assert seen["SELECT procrastinate_jobs"] == 1, "the queue was counted once"
    assert len({r.json()["checked_at"] for r in [*concurrent, later]}) == 1


async def test_without_a_cache_window_every_poll_checks_again(
    runtime: Runtime, connection: AsyncConnection
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"ready_cache_seconds": 0})
    transport = ASGITransport(app=create_app(runtime=runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        with statements(connection) as seen:
            for _ in range(3):
                assert (await client.get("/health/ready")).status_code == 200
    assert seen["SELECT alembic_version"] == 3, seen


async def test_the_503_body_is_documented(runtime: Runtime) -> None:
    transport = ASGITransport(app=create_app(runtime=runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/health/ready"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Readiness"
    }
    not_ready = operation["responses"]["503"]
    assert "Retry-After" in not_ready["headers"]
    assert not_ready["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Readiness"
    }
    check = spec["components"]["schemas"]["Check"]
    assert {"ok", "detail", "figures"} <= check["properties"].keys()


async def test_a_change_of_readiness_is_logged_once_naming_the_failing_checks(
    runtime: Runtime, connection: AsyncConnection
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"ready_cache_seconds": 0})
    transport = ASGITransport(app=create_app(runtime=runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        with capture_logs() as logs:
            assert (await client.get("/health/ready")).status_code == 200
            await connection.execute(
                text(
                    "INSERT INTO procrastinate_jobs (queue_name, task_name, args, scheduled_at) "
                    "VALUES ('default', 'test:late', '{}', now() - interval '1 hour')"
                )
            )
            for _ in range(3):
                assert (await client.get("/health/ready")).status_code == 200
    changes = [e for e in logs if e["event"] == "readiness.changed"]
    assert [(e["status"], e["failing"], e["log_level"]) for e in changes] == [
        ("ready", [], "info"),
        ("degraded", ["queue"], "warning"),
    ]


async def test_a_newer_release_s_migration_keeps_the_process_ready(
    runtime: Runtime, connection: AsyncConnection
) -> None:
    # A rolling deploy migrates first: the old instances meet a revision they do not know.
    await connection.execute(text("UPDATE alembic_version SET version_num = 'f00dfeedbeef'"))
    [(status, body, _)] = await _poll(runtime)
    assert status == 200
    migrations = body["checks"]["migrations"]  # type: ignore[index]
    assert migrations["ok"] is True
    assert "newer than this code's head" in migrations["detail"]


async def test_a_database_behind_the_code_makes_the_process_not_ready(
    runtime: Runtime, connection: AsyncConnection
) -> None:
    older = min(known_revisions() - {migration_head()})
    await connection.execute(
        text("UPDATE alembic_version SET version_num = :older"), {"older": older}
    )
    [(status, body, _)] = await _poll(runtime)
    assert status == 503
    assert _failing(body) == {"migrations"}
    assert body["checks"]["migrations"]["detail"].startswith("behind: ")  # type: ignore[index]
