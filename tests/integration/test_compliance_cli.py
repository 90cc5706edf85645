"""``pd-prime compliance``: run the catalogue, list its results, export a period for an
auditor (checked against its manifest), and refuse a tampered run chain with exit 1."""

from __future__ import annotations

import asyncio
import hashlib
import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from pd_prime_demo import cli
from pd_prime_demo.compliance.controls import CONTROLS

runner = CliRunner()


def _execute(url: str, *statements: str) -> None:
    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


def _printed(output: str) -> list[str]:
    """What the command printed, without the JSON log lines the runner mixes in."""
    return [line for line in output.strip().splitlines() if not line.startswith("{")]


def test_run_list_and_export_a_period(cli_env: str, tmp_path: Path) -> None:
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    assert runner.invoke(cli.app, ["seed"]).exit_code == 0

    ran = runner.invoke(cli.app, ["compliance", "run"])
    lines = _printed(ran.output)
    assert len(lines) == len(CONTROLS) + 1, ran.output
    failed = sum(": FAIL (run " in line for line in lines)
    assert lines[-1] == f"{len(CONTROLS)} runs, {failed} failed"
    assert ran.exit_code == (1 if failed else 0)
    again = runner.invoke(cli.app, ["compliance", "run"])
    assert _printed(again.output) == ["nothing due"], "each control runs once in its period"
    assert again.exit_code == 0

    one = runner.invoke(cli.app, ["compliance", "run", CONTROLS[0].id])
    assert _printed(one.output)[0].startswith(f"{CONTROLS[0].id}: ")
    unknown = runner.invoke(cli.app, ["compliance", "run", "NO-SUCH-CONTROL"])
    assert unknown.exit_code == 1
    assert "control not found" in unknown.output

    listed = runner.invoke(cli.app, ["compliance", "list"])
    assert {line.split(" ")[0] for line in _printed(listed.output)[:-1]} == {c.id for c in CONTROLS}

    today = datetime.now(UTC).date().isoformat()
    out = tmp_path / "soc2.zip"
    exported = runner.invoke(
        cli.app,
        ["compliance", "export", "--from", today, "--to", today, "--out", str(out), "--seed", "s1"],
    )
    assert exported.exit_code == 0, exported.output
    assert "run chain verified" in exported.output
    with zipfile.ZipFile(out) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        for item in manifest["files"]:
            assert hashlib.sha256(archive.read(item["name"])).hexdigest() == item["sha256"]
        runs = archive.read("runs.jsonl").splitlines()
    assert manifest["runs"] == len(runs) == len(CONTROLS) + 1
    assert manifest["sampling"]["seed"] == "s1"

    # As the superuser, bypassing the append-only trigger: the export reports the break.
    _execute(
        cli_env,
        "SET session_replication_role = replica",
        "UPDATE control_runs SET passed = NOT passed WHERE id = (SELECT min(id) FROM control_runs)",
    )
    broken = runner.invoke(
        cli.app, ["compliance", "export", "--from", today, "--to", today, "--out", str(out)]
    )
    assert broken.exit_code == 1
    assert "run chain BROKEN at run" in broken.output
    assert "content does not match its hash" in broken.output


def test_an_export_of_an_empty_period_is_refused(cli_env: str, tmp_path: Path) -> None:
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    refused = runner.invoke(
        cli.app,
        ["compliance", "export", "--from", "2026-02-01", "--to", "2026-01-01", "--out",
         str(tmp_path / "x.zip")],
    )  # fmt: skip
    assert refused.exit_code == 1
    assert "the period ends before it starts" in refused.output
    assert not (tmp_path / "x.zip").exists()
