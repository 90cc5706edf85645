"""audit_log partitioned by month: the migration keeps every entry and the chain, partitions
are made ahead, a row stranded in the DEFAULT partition is moved, expired months are listed
and dropped, and no partition can be rewritten (the triggers of migration 0001 reach them)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from pd_prime_demo.audit import partitions
from pd_prime_demo.audit import service as audit
from pd_prime_demo.audit.rules import ChainFields
from pd_prime_demo.audit.verify import walk_chain
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.database import Database, _alembic_config, to_async_url
from tests.conftest import create_scratch_database, drop_scratch_database

ROWS = "SELECT * FROM audit_log ORDER BY id"


def _fields(at: datetime, n: int) -> ChainFields:
    return ChainFields(
        at, "system", "tests", None, "test.event", "thing", str(n), None, {"n": n, "f": ["a"]}
    )


async def _append_raw(url: str, moments: list[datetime]) -> list[dict[str, Any]]:
    """Append through audit_chain_append as the platform does, then read the whole log."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        entries = [audit.chain_entry(_fields(at, n)) for n, at in enumerate(moments)]
        await conn.fetch(
            "SELECT audit_chain_append($1, $2::jsonb)", audit.AUDIT_CHAIN_LOCK, json.dumps(entries)
        )
        return [dict(row) for row in await conn.fetch(ROWS)]
    finally:
        await conn.close()


async def _walk(url: str) -> tuple[bool, int, list[str]]:
    db = Database(create_async_engine(url))
    try:
        async with db.sessionmaker() as session:
            walk = await walk_chain(session)
            names = await partitions.monthly_partitions(session)
            return walk.ok, walk.entries_checked, names
    finally:
        await db.dispose()


def test_the_migration_keeps_every_entry_and_the_chain(server_url: str) -> None:
    url = asyncio.run(create_scratch_database(server_url))
    try:
        config = _alembic_config(to_async_url(url))
        command.upgrade(config, "0021")
        spread = [datetime(2025, m, 15, 12, 30, 0, 123456, tzinfo=UTC) for m in (1, 1, 3, 7, 12)]
        before = asyncio.run(_append_raw(url, spread))
        command.upgrade(config, "0022")
        after = asyncio.run(_append_raw(url, []))
        assert after == before  # every row, its id and its hash
        ok, checked, names = asyncio.run(_walk(url))
        assert ok
        assert checked == len(before)
        assert {"audit_log_y2025m01", "audit_log_y2025m03", "audit_log_y2025m12"} <= set(names)
        assert partitions.partition_name(clock.today()) in names
        # Appends after the copied rows chain on, with the next ids.
        grown = asyncio.run(_append_raw(url, [datetime(2025, 7, 1, tzinfo=UTC), clock.now()]))
        assert [r["id"] for r in grown] == [r["id"] for r in before] + [
            before[-1]["id"] + 1,
            before[-1]["id"] + 2,
        ]
        assert grown[len(before)]["prev_hash"] == before[-1]["hash"]
        assert asyncio.run(_walk(url))[:2] == (True, len(grown))
        command.downgrade(config, "0021")
        assert asyncio.run(_append_raw(url, [])) == grown
        asyncio.run(_append_raw(url, [clock.now()]))  # the plain table takes appends again
        command.upgrade(config, "0022")
        assert asyncio.run(_walk(url))[:2] == (True, len(grown) + 1)
    finally:
        asyncio.run(drop_scratch_database(server_url, url))


async def _entry_at(session: AsyncSession, at: datetime, n: int = 0) -> int:
    with clock.frozen_at(at):
        await audit.record(session, Actor.system("tests"), "test.event", "thing", str(n))
    (entry_id,) = await audit.write_pending(session)
    return entry_id


async def _partition_of(session: AsyncSession, entry_id: int) -> str:
    name = await session.scalar(
        text("SELECT tableoid::regclass::text FROM audit_log WHERE id = :id"), {"id": entry_id}
    )
    return str(name)


async def test_partitions_are_made_ahead_once(session: AsyncSession) -> None:
    created = await partitions.ensure_partitions(session, today=date(2031, 11, 20), months_ahead=2)
    assert created == ["audit_log_y2031m11", "audit_log_y2031m12", "audit_log_y2032m01"]
    again = await partitions.ensure_partitions(session, today=date(2031, 12, 1), months_ahead=2)
    assert again == ["audit_log_y2032m02"]
    entry = await _entry_at(session, datetime(2031, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert await _partition_of(session, entry) == "audit_partitions.audit_log_y2031m12"


async def test_a_row_in_the_default_partition_moves_to_its_month(session: AsyncSession) -> None:
    stranded = await _entry_at(session, datetime(2040, 5, 3, 8, 0, tzinfo=UTC), 1)
    other = await _entry_at(session, datetime(2041, 1, 1, tzinfo=UTC), 2)
    assert await _partition_of(session, stranded) == "audit_partitions.audit_log_default"
    held = await audit.count_entries(session)
    created = await partitions.ensure_partitions(session, today=date(2040, 5, 1), months_ahead=1)
    assert created == ["audit_log_y2040m05", "audit_log_y2040m06"]
    assert await _partition_of(session, stranded) == "audit_partitions.audit_log_y2040m05"
    assert await _partition_of(session, other) == "audit_partitions.audit_log_default"
    assert await audit.count_entries(session) == held
    walk = await walk_chain(session)
    assert walk.ok
    assert walk.entries_checked == held
    # The new default is guarded like the old one.
    savepoint = await session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text("TRUNCATE audit_partitions.audit_log_default"))
    await savepoint.rollback()


async def test_expired_months_are_listed_and_dropped(session: AsyncSession) -> None:
    await partitions.ensure_partitions(session, today=date(2001, 1, 1), months_ahead=1)
    first = await _entry_at(session, datetime(2001, 1, 2, tzinfo=UTC), 1)
    last = await _entry_at(session, datetime(2001, 1, 30, tzinfo=UTC), 2)
    rows = await session.execute(
        text("SELECT id, hash FROM audit_log WHERE id IN (:a, :b)"), {"a": first, "b": last}
    )
    hashes = {int(i): str(h) for i, h in rows}
    prev = await session.scalar(
        text("SELECT prev_hash FROM audit_log WHERE id = :id"), {"id": first}
    )
    expired = await partitions.expired_partitions(session, before=date(2001, 2, 1))
    assert [p.name for p in expired] == ["audit_log_y2001m01"]
    (january,) = expired
    assert (january.range_from, january.range_to) == (date(2001, 1, 1), date(2001, 2, 1))
    assert (january.min_id, january.max_id, january.rows) == (first, last, 2)
    assert (january.first_prev_hash, january.last_hash) == (prev, hashes[last])
    # February is not wholly before 2001-02-15; an empty month has no ids or hashes.
    listed = await partitions.expired_partitions(session, before=date(2001, 3, 1))
    assert listed[1].name == "audit_log_y2001m02"
    assert (listed[1].rows, listed[1].min_id, listed[1].last_hash) == (0, None, None)
    held = await audit.count_entries(session)
    await partitions.drop_partition(session, "audit_log_y2001m01")
    assert "audit_log_y2001m01" not in await partitions.monthly_partitions(session)
    assert await audit.count_entries(session) == held - 2


@pytest.mark.parametrize(
    "name", ["audit_log_default", "audit_log", "audit_log_y2001m01; DROP TABLE x", "customers"]
)
async def test_only_a_monthly_partition_can_be_dropped(session: AsyncSession, name: str) -> None:
    with pytest.raises(partitions.UnknownPartitionError):
        await partitions.drop_partition(session, name)


@pytest.mark.parametrize("table", ["audit_log", "{partition}"])
@pytest.mark.parametrize(
    "statement",
    ["UPDATE {table} SET action = 'forged'", "DELETE FROM {table}", "TRUNCATE {table}"],
)
async def test_no_partition_can_be_rewritten(
    session: AsyncSession, table: str, statement: str
) -> None:
    entry = await _entry_at(session, clock.now())
    target = table.format(partition=await _partition_of(session, entry))
    assert target != "audit_partitions.audit_log_default"
    savepoint = await session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text(statement.format(table=target)))
    await savepoint.rollback()
    assert await audit.count_entries(session) >= 1
