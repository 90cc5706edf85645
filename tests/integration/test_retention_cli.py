"""``pd-prime privacy holds`` and ``pd-prime privacy retention`` against a scratch database of
their own (they commit for real): the demo book, a hold placed and released, the schedule shown
and run, and the audit trail still verifying."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from pd_prime_demo import cli

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


def test_holds_and_retention_from_the_command_line(cli_env: str) -> None:
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    assert runner.invoke(cli.app, ["seed"]).exit_code == 0
    customer = str(_scalar(cli_env, "SELECT id::text FROM customers ORDER BY id LIMIT 1"))

    placed = runner.invoke(
        cli.app,
        ["privacy", "holds", "place", "customer", customer, "--reason", "Suit", "--matter", "M-7"],
    )
    assert placed.exit_code == 0, placed.output
    hold_id = placed.output.split()[1]
    listed = runner.invoke(cli.app, ["privacy", "holds", "list", "--active"])
    assert hold_id in listed.output
    bad = runner.invoke(
        cli.app, ["privacy", "holds", "place", "planet", customer, "--reason", "x", "--matter", "y"]
    )
    assert bad.exit_code == 1
    unknown = runner.invoke(
        cli.app,
        [
            "privacy",
            "holds",
            "place",
            "policy",
            "00000000-0000-4000-8000-000000000000",
            "--reason",
            "x",
            "--matter",
            "y",
        ],
    )
    assert unknown.exit_code == 1
    assert "privacy.hold_policy_not_found" in unknown.output

    shown = runner.invoke(cli.app, ["privacy", "retention", "show"])
    assert shown.exit_code == 0, shown.output
    assert "former_insured: pseudonymise after 7 years" in shown.output

    ran = runner.invoke(cli.app, ["privacy", "retention", "run"])
    assert ran.exit_code == 0, ran.output
    outcome = json.loads(ran.output)
    assert outcome["finished"] is True
    assert outcome["examined"] >= 1
    assert outcome["erased"] == 0, "nothing in a fresh demo book is due"
    assert outcome["held"] == 1

    released = runner.invoke(cli.app, ["privacy", "holds", "release", hold_id, "--note", "done"])
    assert released.exit_code == 0, released.output
    twice = runner.invoke(cli.app, ["privacy", "holds", "release", hold_id])
    assert twice.exit_code == 1
    assert _scalar(cli_env, "SELECT count(*) FROM privacy_legal_holds") == 1, "kept on record"
    verified = runner.invoke(cli.app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
