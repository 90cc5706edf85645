"""``pd-prime bench import``: converting a synthetic book of N policies into a throwaway
database, as ``pd-prime policies import`` does it (the whole file checked, then loaded a chunk
per transaction), with the rate, the time and the memory it took.

Prints policies and transactions per second, wall time (the check pass and the load pass
apart), this process's CPU time and that of the PostgreSQL processes when the server runs on
this machine, and the process's peak memory; then proves the ledger balances and the audit
chain verifies over what was loaded; and, as the baseline measured in the same run, how many
policies a second the live path binds one at a time (new business only: a conversion's
endorsements and cancellations would cost it more).
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from pd_prime_demo.bench.book import policies, products
from pd_prime_demo.policies.service.import_read import POLICY_COLUMNS, TRANSACTION_COLUMNS

# The columns of the CSV format, as the import reads them.
CSV_POLICY_COLUMNS = list(POLICY_COLUMNS)
CSV_TRANSACTION_COLUMNS = list(TRANSACTION_COLUMNS)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def csv_lines(policy: dict[str, Any], premium_codes: list[str]) -> Iterator[list[str]]:
    """A policy's lines: one per transaction, its own columns on the first line only."""
    for j, txn in enumerate(policy["transactions"]):
        own = [
            _text(policy.get(c) if j == 0 or c == "number" else None) for c in CSV_POLICY_COLUMNS
        ]
        premium = txn.get("premium") or {}
        if j == 0 and "rate_version" in policy:  # the policy's goes on its first line
            txn = {**txn, "rate_version": txn.get("rate_version", policy["rate_version"])}
        yield (
            own
            + [_text(txn.get(c)) for c in CSV_TRANSACTION_COLUMNS]
            + [premium.get(code, "") for code in premium_codes]
        )


def csv_header(premium_codes: list[str]) -> list[str]:
    return CSV_POLICY_COLUMNS + CSV_TRANSACTION_COLUMNS + [f"premium.{c}" for c in premium_codes]


def write_book(
    path: Path, count: int, *, fmt: str, today: date, seed: int = 11, first: int = 1
) -> int:
    """Write a book of ``count`` policies to ``path`` (numbered from ``first``); how many
    transactions it holds."""
    transactions = 0
    codes = sorted({c.code for p in products() for c in p.definition.coverages})
    with path.open("w", encoding="utf-8", newline="") as out:
        write: Callable[[dict[str, Any]], None]
        if fmt == "csv":
            lines = csv.writer(out)
            lines.writerow(csv_header(codes))
            write = lambda policy: lines.writerows(csv_lines(policy, codes))  # noqa: E731
        else:
            write = _json_writer(out)
        for policy in policies(count, today=today, seed=seed, first=first):
            transactions += len(policy["transactions"])
            write(policy)
        if fmt != "csv":
            out.write("\n]\n" if transactions else "]\n")
    return transactions


def _json_writer(out: TextIO) -> Callable[[dict[str, Any]], None]:
    out.write("[")
    first = [True]

    def write(policy: dict[str, Any]) -> None:
        out.write(("\n" if first[0] else ",\n") + json.dumps(policy))
        first[0] = False

    return write


LIVE_SAMPLE = 100


async def _live_baseline(runtime: Any, count: int) -> float:
    """Policies per second bound through the services one at a time, as live business does
    (a customer, a rated and underwritten quote, the bind with its declarations page), on
    the database the import just filled."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Ok
    from pd_prime_demo.customers import service as customers
    from pd_prime_demo.customers.schemas import PersonCreate
    from pd_prime_demo.policies import service as policies
    from pd_prime_demo.quotes import service as quotes
    from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE, QuoteCreate

    actor = Actor.system("bench")
    address = {"line1": "1 Main St", "city": "Austin", "state": "TX", "postal_code": "78701"}
    started = time.perf_counter()
    for n in range(count):
        async with runtime.db.unit_of_work() as session:
            person = PersonCreate(
                kind="person",
                first_name="Live",
                last_name=f"Baseline{n}",
                email=f"live{n}@baseline.example.com",
                address=address,
            )
            created = await customers.create_customer(
                session, person, actor=actor, cipher=runtime.cipher
            )
            assert isinstance(created, Ok), created
            body = {**AUTO_EXAMPLE, "customer_id": str(created.value.id)}
            body["effective_on"] = date.today().isoformat()
            quote = await quotes.create_quote(
                session, QuoteCreate.model_validate(body), actor=actor
            )
            assert isinstance(quote, Ok), quote
            bound = await policies.bind_quote(
                session, quote.value.id, option="standard", payment_plan="monthly", actor=actor
            )
            assert isinstance(bound, Ok), bound
    return count / (time.perf_counter() - started)


def _postgres_cpu() -> float | None:
    """CPU seconds of the PostgreSQL processes on this machine (None if none can be read)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, found = 0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" not in text[:64]:
            continue
        fields = text.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
        found = True
    return total / tick if found else None


def _peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_import_benchmark(
    *,
    policies: int = 10_000,
    fmt: str = "json",
    chunk: int = 1000,
    echo: Callable[[str], object] = print,
) -> dict[str, float]:
    from pd_prime_demo import bootstrap
    from pd_prime_demo.core.database import create_database, drop_database

    base = bootstrap.settings(demo=True)
    assert base.database_url is not None
    scratch = asyncio.run(
        create_database(base.database_url, f"pd_prime_bench_import_{os.getpid()}")
    )
    settings = base.model_copy(update={"database_url": scratch})
    try:
        bootstrap.migrate(settings)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"book.{fmt}"
            started = time.perf_counter()
            transactions = write_book(path, policies, fmt=fmt, today=date.today())
            size = path.stat().st_size / 2**20
            echo(
                f"book: {policies} policies, {transactions} transactions, {fmt}, {size:.1f} MiB "
                f"(generated in {time.perf_counter() - started:.1f} s)"
            )
            return asyncio.run(_measure(settings, path, fmt, chunk, echo))
    finally:
        asyncio.run(drop_database(base.database_url, scratch))


async def _measure(
    settings: Any, path: Path, fmt: str, chunk: int, echo: Callable[[str], object]
) -> dict[str, float]:
    from pd_prime_demo.audit.service import verify_chain
    from pd_prime_demo.billing.service import trial_balance
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Ok
    from pd_prime_demo.core.runtime import Runtime
    from pd_prime_demo.policies import service as policies
    from pd_prime_demo.seed import seed_products

    runtime = Runtime.create(settings)
    try:
        async with runtime.db.unit_of_work() as session:
            await seed_products(session)
        cpu, server, started = time.process_time(), _postgres_cpu(), time.perf_counter()
        checked = {"at": started}

        def progress(book: policies.BookImport) -> None:
            if book.dry_run:  # the check pass, which writes nothing
                checked["at"] = time.perf_counter()

        outcome = await policies.import_file(
            runtime.db,
            path,
            fmt=fmt,
            actor=Actor.system("bench"),
            cipher=runtime.cipher,
            chunk=chunk,
            progress=progress,
        )
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        server_after = _postgres_cpu()
        assert isinstance(outcome, Ok), outcome
        result = outcome.value
        counts = result.counts
        check = checked["at"] - started
        rate = counts.loaded / wall if wall else 0.0
        figures = {
            "policies": float(counts.loaded),
            "refused": float(counts.refused),
            "policies/s": rate,
            "transactions/s": counts.transactions / wall if wall else 0.0,
            "wall s": wall,
            "cpu s": cpu,
            "peak MiB": _peak_memory_mb(),
        }
        echo(
            f"imported {counts.loaded} policies ({counts.transactions} transactions; refused "
            f"{counts.refused}) in {wall:.1f} s: {rate:,.0f} policies/s, "
            f"{figures['transactions/s']:,.0f} transactions/s"
        )
        if result.problems:
            echo(f"  first problem: {result.problems[0]}")
        echo(f"  check pass (nothing written) {check:.1f} s, load pass {wall - check:.1f} s")
        echo(f"  CPU: this process {cpu:.1f} s")
        if server is not None and server_after is not None:
            figures["postgres cpu s"] = server_after - server
            echo(f"  CPU: PostgreSQL processes on this machine {server_after - server:.1f} s")
        echo(f"  peak memory of this process: {figures['peak MiB']:.0f} MiB")
        async with runtime.db.sessionmaker() as session:
            trial = await trial_balance(session)
            chain = await verify_chain(session)
        echo(
            f"  ledger {'balanced' if trial.balanced else 'NOT balanced'} "
            f"(debits {trial.debits}); audit chain "
            f"{'intact' if chain.ok else 'BROKEN'} ({chain.entries_checked} entries)"
        )
        figures["balanced"] = float(trial.balanced and chain.ok)
        live = await _live_baseline(runtime, LIVE_SAMPLE)
        figures["live policies/s"] = live
        echo(
            f"  baseline, the live path (customer, quote, bind: new business only, "
            f"{LIVE_SAMPLE} policies): {live:,.0f} policies/s; the import {rate / live:.1f}x that"
        )
        return figures
    finally:
        await runtime.close()
