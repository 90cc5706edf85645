"""Converting a book through the service and the CLI, against the real database."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from pd_prime_demo import cli
from pd_prime_demo.bench.imports import write_book
from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.policies import service as policies
from tests import book

ACTOR = Actor.system("import-tests")
runner = CliRunner()


async def _import(runtime: Runtime, items: list[dict[str, Any]]) -> policies.ImportResult:
    async with runtime.db.unit_of_work() as session:
        read = list(policies.read_json(io.StringIO(json.dumps(items))))
        result = await policies.import_book(session, read, actor=ACTOR, cipher=runtime.cipher)
    assert isinstance(result, Ok), result
    return result.value


async def _count(session: AsyncSession, sql: str, **params: Any) -> int:
    return int(await session.scalar(text(sql), params) or 0)


async def test_a_policy_is_loaded_whole_or_not_at_all(
    runtime: Runtime, session: AsyncSession
) -> None:
    today = clock.today()
    good = book.policy("WHOLE-GOOD")
    broken = book.policy("WHOLE-BROKEN")
    worse = book.figures(book.auto_risk(), book.AUTO_COVERAGES)
    worse["coverages"] = {"bi": {"limit": "5/10"}, "pd": {"limit": "50"}}
    on = (today - timedelta(days=5)).isoformat()
    broken["transactions"].append(
        {"kind": "endorsement", "effective_on": on, "booked_on": on, **worse}
    )
    result = await _import(runtime, [good, broken])
    assert [p.number for p in result.loaded] == ["WHOLE-GOOD"]
    assert [(p.number, p.pointer) for p in result.problems] == [
        ("WHOLE-BROKEN", "#/1/transactions/1/coverages/bi/limit")
    ]
    for table, column in (
        ("policies", "number"),
        ("billing_accounts", "policy_number"),
    ):
        assert (
            await _count(session, f"SELECT count(*) FROM {table} WHERE {column} = 'WHOLE-BROKEN'")
            == 0
        )
    assert (
        await _count(
            session,
            "SELECT count(*) FROM customers WHERE email = :e",
            e="whole-broken@legacy.example.com",
        )
        == 0
    ), "the refused policy's customer is not created either"
    assert (
        await _count(
            session,
            "SELECT count(*) FROM customers WHERE email = :e",
            e="whole-good@legacy.example.com",
        )
        == 1
    )


async def test_customers_are_created_once_and_found_again(
    runtime: Runtime, session: AsyncSession
) -> None:
    first = book.policy("HOUSE-1", customer_ref="HOUSEHOLD-9")
    second = book.policy("HOUSE-2", customer_ref="HOUSEHOLD-9")
    del second["customer"]  # the same customer, given by its ref only
    orphan = book.policy("ORPHAN-1", customer_ref="NOBODY")
    del orphan["customer"]
    result = await _import(runtime, [first, second, orphan])
    assert {p.number for p in result.loaded} == {"HOUSE-1", "HOUSE-2"}
    assert result.problems[0].pointer == "#/2/customer_ref"
    owners = await session.execute(
        text("SELECT DISTINCT customer_id FROM policies WHERE number IN ('HOUSE-1', 'HOUSE-2')")
    )
    assert len(owners.all()) == 1
    later = book.policy("HOUSE-3", customer_ref="HOUSEHOLD-9")
    del later["customer"]
    assert [p.number for p in (await _import(runtime, [later])).loaded] == ["HOUSE-3"]
    different = book.policy("HOUSE-4", customer_ref="HOUSEHOLD-9")
    different["customer"]["last_name"] = "Somebody Else"
    again = book.policy("HOUSE-5", customer_ref="HOUSEHOLD-9")
    result = await _import(runtime, [again, different])
    assert result.problems[0].pointer == "#/1/customer"


async def test_a_converted_policy_has_no_pages_and_lives_on(
    runtime: Runtime, session: AsyncSession
) -> None:
    today = clock.today()
    result = await _import(runtime, [book.policy("LIVES-ON", start=today - timedelta(days=30))])
    policy_id = result.loaded[0].policy_id
    assert policy_id is not None
    converted = await _count(
        session, "SELECT count(*) FROM documents WHERE policy_id = :p", p=policy_id
    )
    assert converted == 0
    async with runtime.db.unit_of_work() as work:
        done = await policies.endorse(
            work,
            policy_id,
            effective_on=today,
            risk=None,
            coverages={"bi": {"limit": "100/300"}},
            actor=ACTOR,
            expected_version=1,
        )
        assert isinstance(done, Ok), done
        assert isinstance(done.value, policies.Applied)
        assert done.value.transaction.seq == 2
    pages = await _count(
        session,
        "SELECT count(*) FROM documents d JOIN policy_transactions t ON d.source_id = t.id::text "
        "WHERE t.policy_id = :p",
        p=policy_id,
    )
    assert pages == 1, "the endorsement after conversion has its page; the converted history none"
    assert (await billing.trial_balance(session)).balanced


def test_cli_imports_a_book_checks_it_first_and_reruns_safely(cli_env: str, tmp_path: Path) -> None:
    for command in (["migrate"], ["seed"]):
        assert runner.invoke(cli.app, command).exit_code == 0
    path = tmp_path / "book.csv"
    write_book(path, 40, fmt="csv", today=date.today())
    dry = runner.invoke(cli.app, ["policies", "import", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would load 40" in dry.output
    report = tmp_path / "report.json"
    loaded = runner.invoke(
        cli.app, ["policies", "import", str(path), "--chunk", "7", "--report", str(report)]
    )
    assert loaded.exit_code == 0, loaded.output
    assert "loaded 40, already loaded 0, refused 0" in loaded.output
    assert len(json.loads(report.read_text())["loaded"]) == 40
    again = runner.invoke(cli.app, ["policies", "import", str(path)])
    assert "loaded 0, already loaded 40, refused 0" in again.output
    books = runner.invoke(cli.app, ["ledger", "check"])
    assert books.exit_code == 0, books.output
    assert "ledger balanced" in books.output
    chain = runner.invoke(cli.app, ["audit", "verify"])
    assert chain.exit_code == 0, chain.output
    broken = tmp_path / "broken.json"
    broken.write_text('[{"number": "X-1"}]')
    refused = runner.invoke(cli.app, ["policies", "import", str(broken)])
    assert refused.exit_code == 1
    assert "X-1 (row 0) #/0/product_code" in refused.output


def test_import_benchmark_runs(cli_env: str) -> None:
    result = runner.invoke(cli.app, ["bench", "import", "--policies", "25", "--chunk", "10"])
    assert result.exit_code == 0, result.output
    assert "policies/s" in result.output
    assert "refused 0" in result.output
    assert "ledger balanced" in result.output
    assert "audit chain intact" in result.output
