"""``pd-prime bench audit``: verifying a long audit chain, the ORM loop against audit.verify.

A valid chain of N entries is generated in Python (the platform's kinds of actions, resources
and ``changes`` summaries, spread over the twelve months before today so that they fill twelve
monthly partitions) and COPYed into a scratch database. Then, in the same run: the ORM loop
``audit verify`` used before issue 16 (on a subset when N is large, extrapolated and said so),
:func:`audit.verify.walk_chain` with one process and with two, a signed checkpoint, a full
verification against it, ``APPENDED`` entries appended and the incremental verification that
walks only those (audit.incremental), and retention's catalog work
(listing the expired partitions, dropping the oldest). CPU seconds count this process and the
walk's worker processes, not the database server's.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import partitions
from pd_prime_demo.audit.anchoring import write_checkpoint
from pd_prime_demo.audit.models import AuditEntry
from pd_prime_demo.audit.rules import GENESIS_HASH, ChainFields, entry_hash
from pd_prime_demo.audit.service import record, verify_chain, write_pending
from pd_prime_demo.audit.verify import walk_chain
from pd_prime_demo.audit.walk_segment import canonical_hash
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.checkpoint_keys import generate_pem
from pd_prime_demo.core.config import Settings

if TYPE_CHECKING:
    from pd_prime_demo.core.database import Database

Echo = Callable[[str], None]
T = TypeVar("T")

# The ORM loop is timed on at most this many entries: at its pace a million take minutes.
ORM_SUBSET = 100_000
# Entries appended after the full verification, for the incremental one to walk.
APPENDED = 10_000
COPY_BATCH = 50_000
COLUMNS = (
    "id", "occurred_at", "actor_kind", "actor_id", "actor_role", "action", "resource_type",
    "resource_id", "request_id", "changes", "prev_hash", "hash",
)  # fmt: skip

ACTIONS = (
    ("quote.created", "quote", ["product_code", "state", "premium"]),
    ("quote.rated", "quote", ["premium", "worksheet_id"]),
    ("policy.bound", "policy", ["quote_id", "number", "effective_on", "premium"]),
    ("policy.endorsed", "policy", ["transaction_id", "effective_on", "premium_delta"]),
    ("policy.cancelled", "policy", ["transaction_id", "reason_code", "refund"]),
    ("payment.recorded", "payment", ["account_id", "amount", "method"]),
    ("invoice.issued", "invoice", ["account_id", "due_on", "amount"]),
    ("claim.filed", "claim", ["policy_id", "loss_on", "cause"]),
    ("claim.reserve_changed", "claim", ["reserve_id", "amount", "category"]),
    ("customer.updated", "customer", ["fields"]),
    ("user.logged_in", "user", ["session_id", "mfa"]),
)


def _changes(rng: random.Random, resource_type: str, keys: list[str]) -> dict[str, Any]:
    # Ids and field names, as audit.service.record requires (never personal data values).
    changes: dict[str, Any] = {"id": str(uuid.UUID(int=rng.getrandbits(128)))}
    for key in keys:
        if key.endswith("_id"):
            changes[key] = str(uuid.UUID(int=rng.getrandbits(128)))
        elif key in ("premium", "amount", "refund", "premium_delta"):
            changes[key] = f"{rng.randint(50, 500_000) / 100:.2f}"
        elif key.endswith("_on"):
            changes[key] = (date(2026, 1, 1) + timedelta(days=rng.randint(0, 365))).isoformat()
        elif key == "fields":
            changes[key] = rng.sample(["email", "phone", "address", "name", "birth_date"], 2)
        elif key == "mfa":
            changes[key] = rng.random() < 0.8
        else:
            changes[key] = rng.choice(["TX", "OH", "FL", "ach", "card", "wind", "theft"])
    if resource_type == "policy":
        changes["version"] = rng.randint(1, 12)
    return changes


def generate(n: int, *, end: datetime, seed: int = 16) -> Iterator[tuple[Any, ...]]:
    """``n`` chained rows (id, occurred_at, ..., changes as JSON text, prev_hash, hash), in id
    order over the year before ``end``."""
    import json

    rng = random.Random(seed)  # noqa: S311 - a reproducible synthetic chain, not a secret
    start = end - timedelta(days=365)
    step = timedelta(days=365) / max(n, 1)
    prev = GENESIS_HASH
    for i in range(1, n + 1):
        action, resource_type, keys = rng.choice(ACTIONS)
        at = start + step * i
        staff = rng.random() < 0.6
        kind, actor = ("user", f"u-{rng.randint(1, 400)}") if staff else ("system", "worker")
        role = rng.choice(["agent", "underwriter", "adjuster", "admin"]) if staff else None
        resource_id = str(uuid.UUID(int=rng.getrandbits(128)))
        request_id = uuid.UUID(int=rng.getrandbits(128)).hex if staff else None
        changes = _changes(rng, resource_type, keys)
        digest = canonical_hash(
            prev, at, kind, actor, role, action, resource_type, resource_id, request_id, changes
        )
        yield (i, at, kind, actor, role, action, resource_type, resource_id, request_id,
               json.dumps(changes), prev, digest)  # fmt: skip
        prev = digest


async def _orm_loop(session: AsyncSession, through_id: int, batch_size: int = 5000) -> int:
    """audit.service.verify_chain as it was before issue 16: ORM objects in keyset batches."""
    expected_prev, checked, last_id = GENESIS_HASH, 0, 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.id > last_id, AuditEntry.id <= through_id)
                .order_by(AuditEntry.id)
                .limit(batch_size)
                .execution_options(populate_existing=True)
            )
        ).all()
        if not rows:
            return checked
        for row in rows:
            fields = ChainFields(
                row.occurred_at, row.actor_kind, row.actor_id, row.actor_role, row.action,
                row.resource_type, row.resource_id, row.request_id, row.changes,
            )  # fmt: skip
            if row.prev_hash != expected_prev or entry_hash(row.prev_hash, fields) != row.hash:
                raise AssertionError(f"the generated chain does not verify at {row.id}")
            expected_prev, checked, last_id = row.hash, checked + 1, row.id


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def _timed(work: Callable[[], Awaitable[T]]) -> tuple[T, float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    result = await work()
    return result, time.perf_counter() - wall, _cpu() - cpu


async def _incremental(
    db: Database, settings: Settings, n: int, parallel: int, echo: Echo
) -> dict[str, Any]:
    """A signed checkpoint, a full verification against it (which writes the verified
    marker), ``APPENDED`` entries appended through the platform's own path, then an
    incremental verification: it must walk exactly the appended entries."""
    figures: dict[str, Any] = {}
    async with db.unit_of_work() as session:
        _, wall, cpu = await _timed(lambda: write_checkpoint(session, settings))
    echo(f"checkpoint of {n:,} entries (walks them once): {wall:7.1f} s, {cpu:6.1f} s CPU")
    async with db.sessionmaker() as session, session.begin():
        full, wall, cpu = await _timed(
            lambda: verify_chain(session, settings=settings, mode="full", parallel=parallel)
        )
    if not full.ok or full.entries_walked != n or not full.marker_written:
        raise AssertionError(f"the full verification failed: {full}")
    echo(
        f"verify --full, parallel={parallel}:   {wall:7.1f} s, {cpu:6.1f} s CPU "
        f"({full.entries_walked:,} walked, against {full.checkpoints_checked} checkpoint)"
    )
    figures["full"] = {"seconds": wall, "cpu": cpu, "walked": full.entries_walked}
    async with db.unit_of_work() as session:
        for i in range(APPENDED):
            await record(session, Actor.system("bench"), "bench.appended", "thing", str(i))
        _, wall, cpu = await _timed(lambda: write_pending(session))
    echo(f"appended {APPENDED:,} entries (one audit_chain_append): {wall:.1f} s")
    async with db.sessionmaker() as session, session.begin():
        quick, wall, cpu = await _timed(
            lambda: verify_chain(session, settings=settings, mode="incremental", parallel=parallel)
        )
    if not quick.ok or quick.entries_walked != APPENDED:
        raise AssertionError(f"the incremental verification failed: {quick}")
    echo(
        f"verify (incremental):      {wall:7.1f} s, {cpu:6.1f} s CPU "
        f"({quick.entries_walked:,} walked after id {quick.walked_after_id:,}; "
        f"{quick.entries_checked:,} verified); {figures['full']['seconds'] / wall:.0f}x faster"
    )
    figures["incremental"] = {"seconds": wall, "cpu": cpu, "walked": quick.entries_walked}
    return figures


def run_audit_benchmark(*, entries: int, parallel: int, echo: Echo = print) -> dict[str, Any]:
    from pd_prime_demo import bootstrap
    from pd_prime_demo.core.database import create_database, drop_database

    base = bootstrap.settings(demo=True)
    assert base.database_url is not None
    scratch = asyncio.run(create_database(base.database_url, f"pd_prime_bench_audit_{os.getpid()}"))
    settings = base.model_copy(update={"database_url": scratch})
    try:
        bootstrap.migrate(settings)
        return asyncio.run(_measure(settings, entries, parallel, echo))
    finally:
        asyncio.run(drop_database(base.database_url, scratch))


async def _load(session: AsyncSession, n: int, end: datetime) -> int:
    """COPY the generated chain in (after the platform's own entries, if any: none in a fresh
    database), one partition per month made first."""
    import itertools

    await partitions.ensure_partitions(
        session, today=(end - timedelta(days=366)).date(), months_ahead=13
    )
    raw = (await (await session.connection()).get_raw_connection()).driver_connection
    assert raw is not None
    rows = generate(n, end=end)
    columns = COLUMNS
    while batch := list(itertools.islice(rows, COPY_BATCH)):
        await raw.copy_records_to_table("audit_log", records=batch, columns=columns)
    await session.execute(
        text("SELECT setval(pg_get_serial_sequence('audit_log', 'id'), max(id)) FROM audit_log")
    )
    await session.execute(text("ANALYZE audit_log"))
    return n


async def _measure(settings: Settings, n: int, parallel: int, echo: Echo) -> dict[str, Any]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from pd_prime_demo.core.database import Database

    assert settings.database_url is not None
    db = Database(create_async_engine(settings.database_url))
    figures: dict[str, Any] = {"entries": n}
    try:
        end = datetime.now(UTC).replace(microsecond=0)
        async with db.sessionmaker() as session, session.begin():
            _, wall, cpu = await _timed(lambda: _load(session, n, end))
        echo(f"generated and COPYed {n:,} chained entries in {wall:.1f} s ({cpu:.1f} s CPU here)")
        async with db.sessionmaker() as session, session.begin():
            names = await partitions.monthly_partitions(session)
        echo(f"{len(names)} monthly partitions, {names[0]} .. {names[-1]}")

        subset = min(n, ORM_SUBSET)
        async with db.sessionmaker() as session, session.begin():
            checked, wall, cpu = await _timed(lambda: _orm_loop(session, subset))
        orm_rate = checked / wall
        note = "" if subset == n else f" (on the first {subset:,}; {n:,} extrapolated)"
        echo(
            f"ORM loop (before):     {orm_rate:>10,.0f} entries/s, "
            f"{cpu / checked * 1e6:6.1f} µs CPU each; {n / orm_rate:7.1f} s for {n:,}{note}"
        )
        figures["orm"] = {"entries_per_s": orm_rate, "seconds_for_n": n / orm_rate}
        for processes in sorted({1, parallel}):
            async with db.sessionmaker() as session, session.begin():
                walk, wall, cpu = await _timed(lambda: walk_chain(session, parallel=processes))  # noqa: B023
            if not walk.ok or walk.entries_checked != n:
                raise AssertionError(f"walk found {walk.reason} at {walk.first_bad_id}")
            rate = n / wall
            echo(
                f"walk_chain parallel={processes}: {rate:>10,.0f} entries/s, {cpu:6.1f} s CPU; "
                f"{wall:7.1f} s for {n:,}, {rate / orm_rate:5.1f}x the ORM loop"
            )
            figures[f"walk_{processes}"] = {"entries_per_s": rate, "seconds": wall, "cpu": cpu}
        if parallel > 1:
            ratio = (
                figures[f"walk_{parallel}"]["entries_per_s"] / figures["walk_1"]["entries_per_s"]
            )
            echo(f"parallel={parallel} / parallel=1: {ratio:.2f}x (cores: {os.cpu_count()})")

        with tempfile.TemporaryDirectory(prefix="pd-prime-bench-audit-") as data_dir:
            key = SecretStr(generate_pem())
            signed = settings.model_copy(
                update={"data_dir": Path(data_dir), "audit_checkpoint_key": key}
            )
            figures["incremental"] = await _incremental(db, signed, n, parallel, echo)

        async with db.sessionmaker() as session, session.begin():
            oldest = partitions.month_of(names[0])
            expired, wall, _ = await _timed(
                lambda: partitions.expired_partitions(session, before=partitions.next_month(oldest))
            )
            _, dropped, _ = await _timed(
                lambda: partitions.drop_partition(session, expired[0].name)
            )
        echo(
            f"expired_partitions: {wall * 1000:.1f} ms ({expired[0].rows:,} rows in "
            f"{expired[0].name}); drop_partition: {dropped * 1000:.1f} ms"
        )
        figures["retention"] = {"expired_ms": wall * 1000, "drop_ms": dropped * 1000}
    finally:
        await db.dispose()
    return figures
