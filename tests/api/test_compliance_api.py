"""The compliance API: the controls with their latest result, runs, evidence, run now, and the
auditor's export checked against its own manifest."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.compliance import service
from pd_prime_demo.compliance.control import Control, Frequency
from pd_prime_demo.compliance.rules import sample_rank
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from tests.factories import Login, user_login
from tests.integration.test_compliance_runs import raising, table_has_rows

DAILY = table_has_rows("alembic_version", Frequency.DAILY)
WEEKLY = table_has_rows("alembic_version", Frequency.WEEKLY)
MONTHLY = table_has_rows("alembic_version", Frequency.MONTHLY)
QUARTERLY = table_has_rows("alembic_version", Frequency.QUARTERLY)
EMPTY = table_has_rows("security_reviews", Frequency.DAILY)
RAISES = raising(RuntimeError)
CATALOGUE: tuple[Control, ...] = (DAILY, WEEKLY, MONTHLY, QUARTERLY, EMPTY, RAISES)


@pytest.fixture
def catalogue(app: FastAPI) -> tuple[Control, ...]:
    app.dependency_overrides[service.catalogue] = lambda: CATALOGUE
    return CATALOGUE


async def _admin(client: AsyncClient, runtime: Runtime) -> Login:
    return await user_login(client, runtime, Role.ADMIN)


async def test_run_now_list_and_read_runs(
    client: AsyncClient, runtime: Runtime, catalogue: tuple[Control, ...]
) -> None:
    admin = await _admin(client, runtime)
    listed = await client.get("/api/v1/compliance/controls", headers=admin.headers)
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()] == [c.id for c in catalogue]
    assert all(c["latest_run"] is None for c in listed.json())

    ran = await client.post(f"/api/v1/compliance/controls/{DAILY.id}/runs", headers=admin.headers)
    assert ran.status_code == 201, ran.text
    run = ran.json()
    assert run["passed"] is True
    assert run["criteria"] == ["CC4.1"]
    failed = await client.post(
        f"/api/v1/compliance/controls/{RAISES.id}/runs", headers=admin.headers
    )
    assert failed.json()["passed"] is False
    assert failed.json()["reason"] == "the control's test raised RuntimeError"

    latest = {
        c["id"]: c["latest_run"]
        for c in (await client.get("/api/v1/compliance/controls", headers=admin.headers)).json()
    }
    assert latest[DAILY.id]["id"] == run["id"]
    assert latest[EMPTY.id] is None

    page = await client.get(
        "/api/v1/compliance/runs", params={"passed": "false"}, headers=admin.headers
    )
    assert [r["id"] for r in page.json()["items"]] == [failed.json()["id"]]
    one = await client.get(f"/api/v1/compliance/runs/{run['id']}", headers=admin.headers)
    assert one.json() == run
    (item,) = run["evidence"]
    artefact = await client.get(
        f"/api/v1/compliance/runs/{run['id']}/evidence/{item['name']}", headers=admin.headers
    )
    assert artefact.status_code == 200
    assert artefact.headers["content-type"] == "application/json"
    assert hashlib.sha256(artefact.content).hexdigest() == item["sha256"]


async def test_keyset_pages_cover_every_run_once(
    client: AsyncClient, runtime: Runtime, catalogue: tuple[Control, ...]
) -> None:
    admin = await _admin(client, runtime)
    for _ in range(5):
        await client.post(f"/api/v1/compliance/controls/{DAILY.id}/runs", headers=admin.headers)
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "control_id": DAILY.id}
        if cursor:
            params["cursor"] = cursor
        body = (
            await client.get("/api/v1/compliance/runs", params=params, headers=admin.headers)
        ).json()
        seen += [r["id"] for r in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(
    ("method", "url", "status", "code"),
    [
        ("POST", "/api/v1/compliance/controls/NOPE/runs", 404, "compliance.control_not_found"),
        ("GET", "/api/v1/compliance/runs/999999", 404, "compliance.run_not_found"),
        (
            "GET",
            "/api/v1/compliance/runs/999999/evidence/x.json",
            404,
            "compliance.evidence_not_found",
        ),
        ("GET", "/api/v1/compliance/runs/0", 422, None),
        ("GET", "/api/v1/compliance/runs/1/evidence/a%00b", 422, None),
        ("GET", "/api/v1/compliance/runs?control_id=a%00b", 422, None),
        ("GET", "/api/v1/compliance/runs?cursor=garbage", 422, None),
        ("GET", "/api/v1/compliance/runs?from=2026-01-01T00:00:00", 422, None),  # no offset
        (
            "GET",
            "/api/v1/compliance/runs?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            422,
            "compliance.period_empty",
        ),
        (
            "GET",
            "/api/v1/compliance/export?from=2026-02-01&to=2026-01-01",
            422,
            "compliance.period_empty",
        ),
        (
            "GET",
            "/api/v1/compliance/export?from=2020-01-01&to=2026-01-01",
            422,
            "compliance.period_too_long",
        ),
        ("GET", "/api/v1/compliance/export?from=2026-01-01&to=2026-01-31&seed=a%20b", 422, None),
        ("GET", "/api/v1/compliance/export?from=2026-01-01", 422, None),
    ],
)
async def test_bad_requests_are_problems(
    client: AsyncClient,
    runtime: Runtime,
    catalogue: tuple[Control, ...],
    method: str,
    url: str,
    status: int,
    code: str | None,
) -> None:
    admin = await _admin(client, runtime)
    response = await client.request(method, url, headers=admin.headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if code is not None:
        assert response.json()["code"] == code


async def test_an_agent_may_not_read_or_run_controls(
    client: AsyncClient, runtime: Runtime, catalogue: tuple[Control, ...]
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    assert (
        await client.get("/api/v1/compliance/controls", headers=agent.headers)
    ).status_code == 403
    ran = await client.post(f"/api/v1/compliance/controls/{DAILY.id}/runs", headers=agent.headers)
    assert ran.status_code == 403


# --- the auditor's export ------------------------------------------------------------------

START, END = date(2026, 1, 1), date(2026, 3, 31)  # the first quarter of 2026


async def _history(session: AsyncSession, runtime: Runtime) -> dict[str, list[int]]:
    """A quarter of scheduled runs (daily, weekly, monthly, quarterly) and one run either side
    of it; returns the ids of the runs in the period, per control."""
    settings = runtime.settings
    inside: dict[str, list[int]] = {}
    moment = datetime(2025, 12, 31, 6, tzinfo=UTC)
    while moment < datetime(2026, 4, 2, tzinfo=UTC):
        for run in await service.run_due(
            session, settings, now=moment, controls=(DAILY, WEEKLY, MONTHLY, QUARTERLY)
        ):
            if START <= run.started_at.date() <= END:
                inside.setdefault(run.control_id, []).append(run.id)
        moment += timedelta(days=1)
    return inside


def _read(response_content: bytes) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    archive = zipfile.ZipFile(io.BytesIO(response_content))
    return archive, json.loads(archive.read("manifest.json"))


async def test_the_export_is_checked_against_its_manifest(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    inside = await _history(session, runtime)
    await session.commit()  # the outer transaction stays; the API's session sees the rows
    assert {k: len(v) for k, v in inside.items()} == {
        DAILY.id: 90,
        WEEKLY.id: 13,  # the ISO weeks starting in the quarter (and the one running into it)
        MONTHLY.id: 3,
        QUARTERLY.id: 1,
    }
    admin = await _admin(client, runtime)
    params = {"from": START.isoformat(), "to": END.isoformat(), "seed": "auditor-2026"}
    response = await client.get("/api/v1/compliance/export", params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive, manifest = _read(response.content)

    # Every file is in the manifest with its hash and size, and nothing else is in the zip.
    listed = {f["name"]: f for f in manifest["files"]}
    assert set(archive.namelist()) == {*listed, "manifest.json"}
    for name, described in listed.items():
        content = archive.read(name)
        assert hashlib.sha256(content).hexdigest() == described["sha256"], name
        assert len(content) == described["size"], name

    # Every run of the period, and none outside it, in both forms.
    runs = [json.loads(line) for line in archive.read("runs.jsonl").splitlines()]
    assert sorted(r["id"] for r in runs) == sorted(i for ids in inside.values() for i in ids)
    assert manifest["runs"] == len(runs)
    csv_lines = archive.read("runs.csv").decode().splitlines()
    assert csv_lines[0].startswith("id,control_id,criteria")
    assert len(csv_lines) == len(runs) + 1
    for run in runs:
        for item in run["evidence"]:
            content = archive.read(f"evidence/{run['id']}/{item['name']}")
            assert hashlib.sha256(content).hexdigest() == item["sha256"]

    # Samples: 25 of daily, 5 of weekly, 2 of monthly, all of quarterly, each from its population.
    samples = {c["control_id"]: c for c in json.loads(archive.read("samples.json"))["controls"]}
    sizes = {DAILY.id: 25, WEEKLY.id: 5, MONTHLY.id: 2, QUARTERLY.id: 1}
    for control_id, size in sizes.items():
        drawn = samples[control_id]
        assert drawn["population"] == sorted(inside[control_id])
        assert len(drawn["sample"]) == size
        assert set(drawn["sample"]) <= set(drawn["population"])
    assert samples[QUARTERLY.id]["sample_size"] == "all"

    # The auditor redraws the sample from the manifest's seed and method alone.
    seed = manifest["sampling"]["seed"]
    assert seed == "auditor-2026"
    # Whose seed it is: the caller's (by actor id), never presented as the server's draw.
    assert manifest["sampling"]["seed_source"] == {"supplied_by": str(admin.user_id)}
    hashes = {r["id"]: r["hash"] for r in runs}
    daily = sorted(inside[DAILY.id], key=lambda i: sample_rank(seed, hashes[i]))[:25]
    assert samples[DAILY.id]["sample"] == sorted(daily)

    # The chain verifies, and its head is the latest run (here, one after the period).
    chain = json.loads(archive.read("verification.json"))
    assert chain == manifest["chain"]
    assert chain["ok"] is True
    assert chain["head_id"] > max(hashes)

    # The same seed draws the same sample; another seed, another sample.
    again = await client.get("/api/v1/compliance/export", params=params, headers=admin.headers)
    assert _read(again.content)[0].read("samples.json") == archive.read("samples.json")
    other = await client.get(
        "/api/v1/compliance/export", params={**params, "seed": "other"}, headers=admin.headers
    )
    drawn = await client.get(
        "/api/v1/compliance/export",
        params={"from": START.isoformat(), "to": END.isoformat()},
        headers=admin.headers,
    )
    assert _read(drawn.content)[1]["sampling"]["seed_source"] == {"drawn_by": "server"}
    other_daily = json.loads(_read(other.content)[0].read("samples.json"))["controls"]
    assert [c["sample"] for c in other_daily if c["control_id"] == DAILY.id] != [
        samples[DAILY.id]["sample"]
    ]
