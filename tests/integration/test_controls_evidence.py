"""The evidence people and operations record, and the controls that read it: security reviews
(CC7.3), /metrics scrapes and the alert rules (CC7.2), backups and restore checks (A1.2)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from pd_prime_demo import cli
from pd_prime_demo.audit.models import AuditEntry
from pd_prime_demo.compliance.control import ControlContext
from pd_prime_demo.compliance.controls.availability import BACKUPS
from pd_prime_demo.compliance.controls.monitoring import (
    MONITORING,
    RULES_DIR,
    RUNBOOK,
    SECURITY_REVIEW,
    check_monitoring,
)
from pd_prime_demo.compliance.evidence_models import SecurityReview
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import get_settings
from pd_prime_demo.core.metrics_server import serve_metrics
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from pd_prime_demo.operations import metrics_router
from pd_prime_demo.operations.evidence import ScrapeRecorder, last_scrape
from pd_prime_demo.operations.metrics import BackgroundFigures
from pd_prime_demo.operations.models import BackupRun
from tests.conftest import create_scratch_database, drop_scratch_database
from tests.factories import user_login

REVIEWS = "/api/v1/compliance/security-reviews"
TOKEN = "a-scraper-token-long-enough-to-count"


def _ctx(session: AsyncSession, runtime: Runtime) -> ControlContext:
    return ControlContext(session=session, settings=runtime.settings, now=clock.now())


def _review(days_ago: int, **more: Any) -> dict[str, Any]:
    end = clock.now() - timedelta(days=days_ago)
    return {
        "covers_from": (end - timedelta(days=7)).isoformat(),
        "covers_to": end.isoformat(),
        "outcome": "no_issues",
        "events_reviewed": 57,
        "findings": "Failed logins within the usual range; no replayed credential.",
        **more,
    }


async def test_a_recent_review_passes_cc7_3_and_an_old_one_does_not(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    none_yet = await SECURITY_REVIEW.test(_ctx(session, runtime))
    assert not none_yet.passed
    assert "the reviews are the evidence" in none_yet.reason

    admin = await user_login(client, runtime, Role.ADMIN)
    old = await client.post(REVIEWS, json=_review(30), headers=admin.headers)
    assert old.status_code == 201, old.text
    stale = await SECURITY_REVIEW.test(_ctx(session, runtime))
    assert not stale.passed
    assert "within 8 days" in stale.reason

    recent = await client.post(REVIEWS, json=_review(1, reference="SEC-42"), headers=admin.headers)
    assert recent.status_code == 201, recent.text
    body = recent.json()
    assert recent.headers["Location"] == f"{REVIEWS}/{body['id']}"
    assert body["reviewed_by"] == str(admin.user_id)
    outcome = await SECURITY_REVIEW.test(_ctx(session, runtime))
    assert outcome.passed, outcome.reason
    assert outcome.covers_to.isoformat() == body["covers_to"].replace("Z", "+00:00")
    [csv] = outcome.evidence
    assert body["id"] in csv.content.decode()
    assert "Failed logins" not in csv.content.decode(), "free-text findings stay in the API"

    listed = await client.get(REVIEWS, params={"limit": 1}, headers=admin.headers)
    assert [r["id"] for r in listed.json()["items"]] == [body["id"]]
    page_two = await client.get(
        REVIEWS, params={"cursor": listed.json()["next_cursor"]}, headers=admin.headers
    )
    assert [r["id"] for r in page_two.json()["items"]] == [old.json()["id"]]
    one = await client.get(f"{REVIEWS}/{body['id']}", headers=admin.headers)
    assert one.json()["findings"] == body["findings"]
    actions = (
        await session.scalars(
            select(AuditEntry.resource_id).where(
                AuditEntry.action == "compliance.security_review_recorded"
            )
        )
    ).all()
    assert sorted(actions) == sorted([old.json()["id"], body["id"]])


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        (
            {"covers_from": "2026-01-08T00:00:00Z", "covers_to": "2026-01-01T00:00:00Z"},
            "/covers_from",
        ),
        (
            {"covers_from": "2026-01-01T00:00:00Z", "covers_to": "2099-01-01T00:00:00Z"},
            "/covers_to",
        ),
        (
            {"covers_from": "2025-01-01T00:00:00Z", "covers_to": "2026-01-01T00:00:00Z"},
            "/covers_from",
        ),
    ],
)
async def test_a_review_of_an_impossible_period_is_a_422_and_records_nothing(
    client: AsyncClient,
    runtime: Runtime,
    session: AsyncSession,
    change: dict[str, str],
    pointer: str,
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    refused = await client.post(REVIEWS, json=_review(1, **change), headers=admin.headers)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["pointer"] for e in refused.json()["errors"]] == [pointer]
    assert await session.scalar(select(func.count()).select_from(SecurityReview)) == 0


async def test_a_review_replays_by_idempotency_key(client: AsyncClient, runtime: Runtime) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    headers = {**admin.headers, "Idempotency-Key": "review-1"}
    body = _review(1)
    first = await client.post(REVIEWS, json=body, headers=headers)
    again = await client.post(REVIEWS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


@pytest.fixture
async def scraper(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AsyncClient]:
    runtime.settings = runtime.settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    # A recorder of this test's own: the process-wide one's throttle remembers other tests.
    monkeypatch.setattr(metrics_router, "scrapes", ScrapeRecorder())
    transport = ASGITransport(app=create_app(runtime=runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def test_monitoring_passes_after_a_scrape_and_fails_without_one(
    scraper: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    never = await MONITORING.test(_ctx(session, runtime))
    assert not never.passed
    assert "no scrape of /metrics has ever been recorded" in never.reason

    refused = await scraper.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401
    assert not (await MONITORING.test(_ctx(session, runtime))).passed, "a refused scrape is none"

    scraped = await scraper.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert scraped.status_code == 200
    outcome = await MONITORING.test(_ctx(session, runtime))
    assert outcome.passed, outcome.reason
    assert outcome.figures["documented"] >= 15

    later = ControlContext(
        session=session, settings=runtime.settings, now=clock.now() + timedelta(hours=2)
    )
    stale = await MONITORING.test(later)
    assert not stale.passed
    assert "the last scrape of /metrics was at" in stale.reason


async def test_scrapes_are_written_at_most_once_a_minute(
    scraper: AsyncClient, session: AsyncSession
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    await scraper.get("/metrics", headers=headers)
    first = await session.scalar(text("SELECT last_scraped_at FROM metrics_scrapes"))
    await asyncio.sleep(0.01)
    await scraper.get("/metrics", headers=headers)
    assert await session.scalar(text("SELECT last_scraped_at FROM metrics_scrapes")) == first


async def test_an_alert_the_runbook_documents_but_no_rule_defines_fails(
    scraper: AsyncClient, runtime: Runtime, session: AsyncSession, tmp_path: Path
) -> None:
    await scraper.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    runbook = tmp_path / "operations.md"
    runbook.write_text(
        RUNBOOK.read_text("utf-8").replace("## Alerts\n", "## Alerts\n\n`PdPrimeGhostAlert`\n")
    )
    outcome = await check_monitoring(_ctx(session, runtime), RULES_DIR, runbook)
    assert not outcome.passed
    assert "alerts documented but not defined: PdPrimeGhostAlert" in outcome.reason

    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "bad.yml").write_text("groups: [ {name: x, rules: [ {alert: A, expr: ")
    outcome = await check_monitoring(_ctx(session, runtime), broken, RUNBOOK)
    assert not outcome.passed
    assert "bad.yml does not parse" in outcome.reason


async def _invoke(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli.app, list(args))


async def test_a1_2_reads_the_backups_and_restores_the_cli_records(
    committed_runtime: Runtime,
    server_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = committed_runtime
    async with runtime.db.sessionmaker() as session:
        missing = await BACKUPS.test(_ctx(session, runtime))
    assert not missing.passed
    assert "no successful backup has been recorded" in missing.reason
    assert "no verified restore has been recorded" in missing.reason

    monkeypatch.setenv("DATABASE_URL", runtime.db.url)
    monkeypatch.setenv("PD_PRIME_ENV", "development")
    monkeypatch.setenv("PD_PRIME_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PD_PRIME_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    target = await create_scratch_database(server_url)
    try:
        made = await _invoke("backup")
        assert made.exit_code == 0, made.output
        async with runtime.db.sessionmaker() as session:
            half = await BACKUPS.test(_ctx(session, runtime))
        assert not half.passed
        assert half.reason == "no verified restore has been recorded"
        [dump] = (tmp_path / "backups").glob("*.dump")
        restored = await _invoke("restore", str(dump), "--database-url", target)
        assert restored.exit_code == 0, restored.output
        checked = await _invoke("restore", str(dump), "--database-url", target, "--check-only")
        assert checked.exit_code == 0, checked.output
    finally:
        get_settings.cache_clear()
        await drop_scratch_database(server_url, target)

    async with runtime.db.sessionmaker() as session:
        outcome = await BACKUPS.test(_ctx(session, runtime))
        runs = (await session.scalars(select(BackupRun).order_by(BackupRun.finished_at))).all()
        recorded = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.resource_type == "backup_run")
        )
    assert outcome.passed, outcome.reason
    assert dump.name in outcome.reason
    # The restore is recorded in the live database; --check-only proves no restore of its own.
    assert [(r.kind, r.ok, r.file) for r in runs] == [
        ("backup", True, dump.name),
        ("restore_verification", True, dump.name),
    ]
    assert recorded == 2
    [csv] = outcome.evidence
    assert runs[0].sha256 in csv.content.decode()

    later = ControlContext(
        session=session, settings=runtime.settings, now=clock.now() + timedelta(hours=27)
    )
    async with runtime.db.sessionmaker() as session:
        stale = await BACKUPS.test(
            ControlContext(session=session, settings=runtime.settings, now=later.now)
        )
    assert not stale.passed
    assert "over 26 hours ago" in stale.reason


async def test_a_scrape_of_the_tokenless_listener_is_recorded_for_cc7_2(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    async with runtime.db.sessionmaker() as read:
        assert not (await MONITORING.test(_ctx(read, runtime))).passed
    figures = BackgroundFigures(runtime.settings)
    server = serve_metrics("127.0.0.1:0", figures)
    assert server is not None
    try:
        url = f"http://127.0.0.1:{server.port}/metrics"
        response = await asyncio.to_thread(httpx.get, url, timeout=10)
    finally:
        server.close()
        figures.close()
    assert response.status_code == 200
    async with runtime.db.sessionmaker() as read:
        recorded = await last_scrape(read)
        assert recorded is not None
        assert clock.now() - recorded < timedelta(minutes=1)
        outcome = await MONITORING.test(_ctx(read, runtime))
    assert "no scrape of /metrics" not in outcome.reason
