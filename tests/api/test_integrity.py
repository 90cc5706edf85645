"""The periodic integrity checks: a healthy database passes both; an unbalanced ledger or a
tampered audit entry fails its check, is logged at ERROR and shows as 0 on the next scrape."""

from __future__ import annotations

from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection
from structlog.testing import capture_logs

from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from pd_prime_demo.operations.integrity import run_checks
from pd_prime_demo.operations.models import IntegrityCheck
from pd_prime_demo.worker import queue_app
from tests.api.test_metrics import TOKEN, samples, value


async def _scraped_checks(runtime: Runtime) -> dict[str, float | None]:
    runtime.settings = runtime.settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    transport = ASGITransport(app=create_app(runtime=runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    found = samples(response.text)
    return {
        check: value(found, "pd_prime_integrity_check_ok", check=check)
        for check in ("audit_chain", "ledger")
    }


async def _rows(runtime: Runtime) -> dict[str, IntegrityCheck]:
    async with runtime.db.sessionmaker() as session:
        return {row.check: row for row in (await session.scalars(select(IntegrityCheck))).all()}


async def test_a_healthy_database_passes_both_checks(runtime: Runtime) -> None:
    results = await run_checks(runtime.db)
    assert {r.check: r.ok for r in results} == {"audit_chain": True, "ledger": True}
    rows = await _rows(runtime)
    assert "entries verified" in rows["audit_chain"].detail
    assert rows["ledger"].detail.startswith("debits ")
    assert await _scraped_checks(runtime) == {"audit_chain": 1, "ledger": 1}


async def test_an_unbalanced_ledger_fails_its_check(
    runtime: Runtime, connection: AsyncConnection
) -> None:
    await run_checks(runtime.db)
    first = (await _rows(runtime))["ledger"].checked_at
    # The balance trigger fires at commit, which the test's outer transaction never reaches.
    journal = await connection.scalar(
        text(
            "INSERT INTO ledger_journal (occurred_at, accounting_on, source, source_id, memo) "
            "VALUES (now(), current_date, 'test', 'x', 'unbalanced') RETURNING id"
        )
    )
    await connection.execute(
        text(
            "INSERT INTO ledger_lines (journal_id, account, debit, credit) "
            "VALUES (:j, 'cash', 10, 0)"
        ),
        {"j": journal},
    )
    with capture_logs() as logs:
        results = await run_checks(runtime.db)
    assert {r.check: r.ok for r in results} == {"audit_chain": True, "ledger": False}
    row = (await _rows(runtime))["ledger"]
    assert not row.ok
    assert f"unbalanced entries: {journal}" in row.detail
    assert row.checked_at >= first
    assert [e["check"] for e in logs if e["log_level"] == "error"] == ["ledger"]
    assert await _scraped_checks(runtime) == {"audit_chain": 1, "ledger": 0}


async def test_a_tampered_audit_entry_fails_its_check(
    runtime: Runtime, connection: AsyncConnection
) -> None:
    victim = await connection.scalar(text("SELECT max(id) FROM audit_log"))
    assert victim is not None, "the test database has an audit trail"
    await connection.execute(text("SET LOCAL session_replication_role = replica"))
    await connection.execute(
        text("UPDATE audit_log SET actor_id = 'someone-else' WHERE id = :id"), {"id": victim}
    )
    await connection.execute(text("SET LOCAL session_replication_role = origin"))
    results = await run_checks(runtime.db)
    assert {r.check: r.ok for r in results} == {"audit_chain": False, "ledger": True}
    assert f"broken at entry {victim}" in (await _rows(runtime))["audit_chain"].detail
    assert await _scraped_checks(runtime) == {"audit_chain": 0, "ledger": 1}


def test_the_worker_schedules_the_checks_on_their_cron(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"integrity_check_cron": "5 4 * * *"})
    app = queue_app(runtime)
    [periodic] = [
        p
        for p in app.periodic_registry.periodic_tasks.values()
        if p.periodic_id == "integrity.check"
    ]
    assert periodic.cron == "5 4 * * *"
    assert periodic.task.name == "operations:integrity.check"
