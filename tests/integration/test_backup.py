"""pd-prime backup and restore as an operator runs them: a book with policies and a payment is
dumped, restored into a new empty database and checked; a tampered copy or a corrupted dump
fails the check, naming what is wrong; nothing is ever restored over data."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner, Result

from pd_prime_demo import cli
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import get_settings
from pd_prime_demo.core.database import migration_head
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.claims_support import bound_policy, staff
from tests.conftest import create_scratch_database, drop_scratch_database


@dataclass(frozen=True)
class Backup:
    dump: Path
    manifest: dict[str, Any]
    live_url: str


async def _invoke(*args: str) -> Result:
    # The commands run their own event loop (asyncio.run), so off this test's loop.
    return await asyncio.to_thread(CliRunner().invoke, cli.app, list(args))


async def _sql(url: str, *statements: str) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            result = None
            for statement in statements:
                found = await conn.execute(text(statement))
                result = found.scalar() if found.returns_rows else found.rowcount
            return result
    finally:
        await engine.dispose()


@pytest.fixture
async def empty_database(server_url: str) -> AsyncIterator[Any]:
    made: list[str] = []

    async def new() -> str:
        made.append(await create_scratch_database(server_url))
        return made[-1]

    yield new
    for url in made:
        await drop_scratch_database(server_url, url)


@pytest.fixture
async def backed_up(
    committed_runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Backup]:
    """Two bound policies and a payment on a database of their own, then `pd-prime backup`."""
    app = create_app(runtime=committed_runtime)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        agent = await staff(client, committed_runtime, Role.AGENT)
        first = await bound_policy(client, agent)
        await bound_policy(client, agent, product="home")
        paid = await client.post(
            f"{first.url}/payments",
            json={"amount": "125.00"},
            headers={**agent.headers, "Idempotency-Key": "backup-payment"},
        )
        assert paid.status_code == 201, paid.text
    live_url = committed_runtime.db.url
    monkeypatch.setenv("DATABASE_URL", live_url)
    monkeypatch.setenv("PD_PRIME_ENV", "development")
    monkeypatch.setenv("PD_PRIME_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PD_PRIME_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    try:
        made = await _invoke("backup")
        assert made.exit_code == 0, made.output
        [dump] = (tmp_path / "backups").glob("*.dump")
        manifest = json.loads(dump.with_suffix(".manifest.json").read_text())
        yield Backup(dump, manifest, live_url)
    finally:
        get_settings.cache_clear()


async def test_a_backup_restores_into_an_empty_database_and_checks_out(
    backed_up: Backup, empty_database: Any
) -> None:
    manifest = backed_up.manifest
    assert manifest["file"] == backed_up.dump.name
    assert manifest["size_bytes"] == backed_up.dump.stat().st_size
    figures = manifest["figures"]
    assert figures["migration_revision"] == migration_head()
    assert figures["audit_intact"]
    assert figures["audit_entries"] > 0
    assert figures["ledger_debits"] == figures["ledger_credits"]
    assert Decimal(figures["ledger_debits"]) > 0
    assert figures["tables"]["policies"] == 2
    assert figures["tables"]["payments"] == 1

    target = await empty_database()
    restored = await _invoke("restore", str(backed_up.dump), "--database-url", target)
    assert restored.exit_code == 0, restored.output
    for check in ("dump file", "restore", "migrations", "audit chain", "ledger", "tables"):
        assert f"ok    {check}:" in restored.output
    assert "restore check passed" in restored.output
    assert await _sql(target, "SELECT count(*) FROM policies") == 2
    assert await _sql(target, "SELECT sum(amount)::text FROM payments") == "125.00"

    again = await _invoke("restore", str(backed_up.dump), "--database-url", target)
    assert again.exit_code == 2, "a database holding data is never restored over"
    assert "not empty" in again.output
    checked = await _invoke(
        "restore", str(backed_up.dump), "--database-url", target, "--check-only"
    )
    assert checked.exit_code == 0, checked.output


async def test_a_tampered_copy_fails_the_check_naming_what_is_wrong(
    backed_up: Backup, empty_database: Any
) -> None:
    audit_copy, ledger_copy = await empty_database(), await empty_database()
    for target in (audit_copy, ledger_copy):
        restored = await _invoke("restore", str(backed_up.dump), "--database-url", target)
        assert restored.exit_code == 0, restored.output
    # As a superuser with the append-only triggers off: what an attacker or a bad disk does.
    assert (
        await _sql(
            audit_copy,
            "SET LOCAL session_replication_role = replica",
            "UPDATE audit_log SET action = 'policy.cancelled' "
            "WHERE id = (SELECT max(id) FROM audit_log)",
        )
        == 1
    )
    assert (
        await _sql(
            ledger_copy,
            "SET LOCAL session_replication_role = replica",
            "UPDATE ledger_lines SET debit = debit + 1 WHERE id = "
            "(SELECT min(id) FROM ledger_lines WHERE debit > 0)",
        )
        == 1
    )
    audit_check = await _invoke(
        "restore", str(backed_up.dump), "--database-url", audit_copy, "--check-only"
    )
    assert audit_check.exit_code == 1
    assert "FAIL  audit chain: BROKEN at entry" in audit_check.output
    assert "ok    ledger:" in audit_check.output
    ledger_check = await _invoke(
        "restore", str(backed_up.dump), "--database-url", ledger_copy, "--check-only"
    )
    assert ledger_check.exit_code == 1
    assert "FAIL  ledger: NOT balanced" in ledger_check.output
    assert "ok    audit chain:" in ledger_check.output


async def test_a_corrupted_dump_is_refused_before_anything_is_restored(
    backed_up: Backup, empty_database: Any
) -> None:
    data = bytearray(backed_up.dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    backed_up.dump.write_bytes(bytes(data))
    target = await empty_database()
    result = await _invoke("restore", str(backed_up.dump), "--database-url", target)
    assert result.exit_code == 1
    assert "FAIL  dump file: SHA-256" in result.output
    tables = await _sql(target, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    assert tables == 0, "the target is left as empty as it was"


async def test_the_live_database_is_never_restored_over(backed_up: Backup) -> None:
    result = await _invoke("restore", str(backed_up.dump), "--database-url", backed_up.live_url)
    assert result.exit_code == 2
    assert "live database" in result.output


async def test_a_target_that_does_not_exist_is_a_clear_refusal(
    backed_up: Backup, server_url: str
) -> None:
    missing = make_url(server_url).set(database="pd_prime_no_such_database")
    url = missing.render_as_string(hide_password=False)
    result = await _invoke("restore", str(backed_up.dump), "--database-url", url)
    assert result.exit_code == 2
    assert 'database "pd_prime_no_such_database" does not exist' in result.output


async def test_a_backup_never_overwrites_one(backed_up: Backup) -> None:
    result = await _invoke("backup", "--output", str(backed_up.dump))
    assert result.exit_code == 2
    assert "already exists" in result.output
