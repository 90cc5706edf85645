"""pd-prime commands against a scratch database of their own (they commit for real)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from pd_prime_demo import cli
from pd_prime_demo.core.config import get_settings

runner = CliRunner()


def _scalar(url: str, sql: str) -> Any:
    async def run() -> Any:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text(sql))).scalar_one()
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_migrate_seed_is_idempotent_and_audit_verifies(cli_env: str) -> None:
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0, "migrating twice is a no-op"
    first = runner.invoke(cli.app, ["seed"])
    assert first.exit_code == 0, first.output
    assert "6 users, 6 customers, 6 product versions, 2 quotes, 4 policies" in first.output
    second = runner.invoke(cli.app, ["seed"])
    assert "0 users, 0 customers, 0 product versions, 0 quotes, 0 policies" in second.output
    assert _scalar(cli_env, "SELECT count(*) FROM users") == 6
    assert _scalar(cli_env, "SELECT count(*) FROM customers") == 6
    verified = runner.invoke(cli.app, ["audit", "verify"])
    assert verified.exit_code == 0
    assert "audit chain intact" in verified.output
    books = runner.invoke(cli.app, ["ledger", "check"])
    assert books.exit_code == 0, books.output
    assert "ledger balanced" in books.output


def test_audit_verify_fails_on_tampering(cli_env: str) -> None:
    runner.invoke(cli.app, ["migrate"])
    runner.invoke(cli.app, ["seed"])

    async def tamper() -> None:
        engine = create_async_engine(cli_env)
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text("UPDATE audit_log SET actor_id = 'someone-else' WHERE id = 3"))
        await engine.dispose()

    asyncio.run(tamper())
    result = runner.invoke(cli.app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "BROKEN at entry 3" in result.output


def test_seed_refused_in_production(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PD_PRIME_ENV", "production")
    get_settings.cache_clear()
    result = runner.invoke(cli.app, ["seed"])
    assert result.exit_code == 2


@pytest.mark.parametrize("command", [["serve"], ["worker", "--once"]])
def test_production_refuses_the_demo_carrier(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """Production documents must name the real insurer: serving or working while any carrier
    setting is still the demo carrier's stops before anything starts, naming what to set."""
    monkeypatch.setenv("PD_PRIME_ENV", "production")
    real = {
        "PD_PRIME_CARRIER_NAME": "Hartford Plaza Mutual",
        "PD_PRIME_CARRIER_NAIC": "12345",
        "PD_PRIME_CARRIER_ADDRESS": "1 Insurance Plaza|Hartford, CT 06103",
        "PD_PRIME_CARRIER_PHONE": "1-860-555-0199",
        "PD_PRIME_CARRIER_EMAIL": "service@hpm.example",
        "PD_PRIME_CARRIER_WEBSITE": "https://hpm.example",
        "PD_PRIME_CARRIER_REMIT_TO": "Hartford Plaza Mutual|PO Box 5|Hartford, CT 06101",
    }
    for name, value in real.items():  # all but the payment instructions
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    result = runner.invoke(cli.app, command)
    assert result.exit_code == 2
    assert "set PD_PRIME_CARRIER_PAYMENT_INSTRUCTIONS (docs/documents.md)" in result.output
    monkeypatch.setenv("PD_PRIME_CARRIER_PAYMENT_INSTRUCTIONS", "Pay Hartford Plaza Mutual.")
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.demo_carrier_settings() == []
    assert settings.carrier_address == ["1 Insurance Plaza", "Hartford, CT 06103"]
    assert settings.carrier_remit_to[-1] == "Hartford, CT 06101"


@pytest.mark.parametrize("command", [["serve"], ["worker", "--once"]])
def test_a_broken_template_override_stops_the_start(
    cli_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, command: list[str]
) -> None:
    """An operator's template that would fail every page of its kind is found at startup."""
    (tmp_path / "invoice.yaml").write_text(
        'kind: invoice\nversion: "1"\ntitle: "Invoice"\nblocks:\n  - heading: "{{ doc.nope }}"\n'
    )
    monkeypatch.setenv("PD_PRIME_DOCUMENT_TEMPLATES_DIR", str(tmp_path))
    get_settings.cache_clear()
    result = runner.invoke(cli.app, command)
    assert result.exit_code == 2
    assert "refusing to start: the document templates have problems" in result.output
    assert "invoice.yaml" in result.output


def test_demo_migrates_seeds_prints_logins_and_serves(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, Any] = {}

    def fake_run(app: Any, **kwargs: Any) -> None:  # uvicorn is the third party here
        served["app"], served["kwargs"] = app, kwargs

    monkeypatch.setattr("uvicorn.run", fake_run)
    result = runner.invoke(cli.app, ["demo"])
    assert result.exit_code == 0, result.output
    assert "admin@demo.pdprime.example" in result.output
    assert "http://127.0.0.1:8000/docs" in result.output
    assert served["kwargs"]["port"] == 8000
    assert served["app"].title == "PD Prime"
    again = runner.invoke(cli.app, ["demo"])
    assert "0 users, 0 customers" in again.output


def test_keys_generate_prints_usable_material() -> None:
    result = runner.invoke(cli.app, ["keys", "generate"])
    assert result.exit_code == 0
    assert "export PD_PRIME_JWT_KEYS=" in result.output
    assert "export PD_PRIME_PII_KEYS=" in result.output


def test_products_export_then_upload(cli_env: str, tmp_path: Path) -> None:
    runner.invoke(cli.app, ["migrate"])
    exported = runner.invoke(cli.app, ["products", "export", str(tmp_path / "products")])
    assert exported.exit_code == 0
    files = sorted((tmp_path / "products").glob("*.json"))
    assert len(files) == 6
    uploaded = runner.invoke(cli.app, ["products", "upload", str(files[0]), "--activate"])
    assert uploaded.exit_code == 0, uploaded.output
    assert "(active)" in uploaded.output
    bad = tmp_path / "bad.json"
    raw = json.loads(files[1].read_text())
    raw["tables"] = {}
    bad.write_text(json.dumps(raw))
    rejected = runner.invoke(cli.app, ["products", "upload", str(bad)])
    assert rejected.exit_code == 1
    assert "product.invalid_definition" in rejected.output
    assert "#/algorithm/coverages/" in rejected.output
    assert "expired 0 quotes" in runner.invoke(cli.app, ["quotes", "expire"]).output


def test_api_benchmark_runs_against_a_real_server(cli_env: str) -> None:
    from pd_prime_demo.bench.api import run_api_benchmark

    lines: list[str] = []
    figures = run_api_benchmark(seconds=0.5, concurrency=2, echo=lines.append)
    for name in (
        "POST /api/v1/quotes",
        "echo (validate + echo)",
        "... as draft, unrated",
        "floor (raw SQL, unrated)",
    ):
        assert figures[name] > 0, name
    assert all("(0 failed)" in line for line in lines if "req/s" in line)
    for ratio in ("quote / echo", "floor / echo", "quote / draft"):
        assert any(line.strip().startswith(f"{ratio} throughput:") for line in lines), ratio


def test_worker_once_runs_every_job(cli_env: str) -> None:
    runner.invoke(cli.app, ["migrate"])
    runner.invoke(cli.app, ["seed"])

    async def documents_by_status() -> dict[str, int]:
        conn = await asyncpg.connect(
            make_url(cli_env).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            rows = await conn.fetch("SELECT status, count(*) FROM documents GROUP BY status")
        finally:
            await conn.close()
        return {row["status"]: row["count"] for row in rows}

    # The demo book's pages were recorded with its policies and wait for a worker.
    assert asyncio.run(documents_by_status()).get("pending", 0) > 0
    result = runner.invoke(cli.app, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    for job in ("quotes.expire", "renewals.offer", "renewals.lapse", "billing.run", "ledger.earn"):
        assert f"{job}:" in result.output
    # The sweeps ran, the relay published their events and the queue drew every page.
    drawn = asyncio.run(documents_by_status())
    assert drawn.get("pending", 0) == 0
    assert drawn.get("failed", 0) == 0
    assert drawn["ready"] > 0


def test_policy_api_benchmark_runs(cli_env: str) -> None:
    from pd_prime_demo.bench.api import run_api_benchmark

    lines: list[str] = []
    figures = run_api_benchmark(seconds=0.4, concurrency=2, suite="policies", echo=lines.append)
    for name in ("bind", "bare bind", "read", "bare read", "pay", "bare pay"):
        assert figures[name] > 0, name
    assert all("(0 failed)" in line for line in lines if "req/s" in line)


def _spawned_children(pid: int) -> list[int]:
    """Processes started by ``pid`` through multiprocessing (uvicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # ended while we looked
        if ppid == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts processes in /proc")
def test_serve_with_workers_runs_processes_behind_one_port(
    cli_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket
    import subprocess
    import time

    import httpx

    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PD_PRIME_PORT": str(port), "PD_PRIME_HOST": "127.0.0.1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "pd_prime_demo.cli", "serve", "--workers", "2"], env=env
    )
    try:
        ready = None
        for _ in range(150):
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None
        assert ready.status_code == 200, ready.text
        assert len(_spawned_children(server.pid)) == 2
    finally:
        server.terminate()
        server.wait(timeout=20)
    monkeypatch.delenv("DATABASE_URL")
    get_settings.cache_clear()
    refused = runner.invoke(cli.app, ["serve", "--workers", "2"])
    assert refused.exit_code == 2
    assert "needs DATABASE_URL" in refused.output


def test_realtime_benchmark_hears_every_commit(cli_env: str) -> None:
    from pd_prime_demo.bench.live import run_realtime_benchmark

    lines: list[str] = []
    figures = run_realtime_benchmark(samples=10, echo=lines.append)
    assert figures["received"] == 10
    assert any("commit -> WebSocket message" in line for line in lines)
