"""Behaviour that needs real commits: concurrent binds, and the ledger's database guards."""

from __future__ import annotations

import asyncio

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.factories import auto_quote, person, user_login


async def test_concurrent_binds_make_exactly_one_policy(committed_runtime: Runtime) -> None:
    app = create_app(runtime=committed_runtime)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        agent = await user_login(client, committed_runtime, Role.AGENT)
        customer = (
            await client.post("/api/v1/customers", json=person(), headers=agent.headers)
        ).json()
        quote = (
            await client.post(
                "/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers
            )
        ).json()
        url = f"/api/v1/quotes/{quote['id']}/bind"
        responses = await asyncio.gather(
            *(
                client.post(url, json={"option": "standard"}, headers=agent.headers)
                for _ in range(8)
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 7 + [201], [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    async with committed_runtime.db.sessionmaker() as session:
        count = await session.scalar(
            text("SELECT count(*) FROM policies WHERE quote_id = :q"), {"q": quote["id"]}
        )
    assert count == 1


async def test_database_refuses_unbalanced_or_rewritten_ledger(committed_runtime: Runtime) -> None:
    engine = committed_runtime.db.engine
    async with engine.connect() as conn:
        await conn.execute(
            text(
                "INSERT INTO ledger_journal (occurred_at, accounting_on, source, source_id, memo) "
                "VALUES (now(), current_date, 'test', 'x', 'unbalanced')"
            )
        )
        journal = await conn.scalar(text("SELECT max(id) FROM ledger_journal"))
        await conn.execute(
            text(
                "INSERT INTO ledger_lines (journal_id, account, debit, credit) "
                "VALUES (:j, 'cash', 10, 0)"
            ),
            {"j": journal},
        )
        with pytest.raises(DBAPIError, match="does not balance"):
            await conn.commit()
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO ledger_journal (occurred_at, accounting_on, source, source_id, memo) "
                "VALUES (now(), current_date, 'test', 'y', 'balanced')"
            )
        )
        journal = await conn.scalar(text("SELECT max(id) FROM ledger_journal"))
        await conn.execute(
            text(
                "INSERT INTO ledger_lines (journal_id, account, debit, credit) VALUES "
                "(:j, 'cash', 10, 0), (:j, 'premium_receivable', 0, 10)"
            ),
            {"j": journal},
        )
    for statement in (
        "UPDATE ledger_lines SET debit = 20",
        "DELETE FROM ledger_journal",
        "TRUNCATE policy_transactions CASCADE",
        "TRUNCATE premium_earnings",
    ):
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError, match="append-only"):
                await conn.execute(text(statement))


async def test_concurrent_writers_keep_one_chain_and_rollback_drops_entries(
    committed_runtime: Runtime,
) -> None:
    from pd_prime_demo.audit import service as audit
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.outbox import emit

    db = committed_runtime.db
    actor = Actor.system("tests")

    async def writer(n: int) -> None:
        async with db.unit_of_work() as session:
            for i in range(3):
                await audit.record(session, actor, "test.event", "thing", f"{n}-{i}")
                emit(session, "test.event", "thing", f"{n}-{i}")
                await asyncio.sleep(0)  # let the other writers interleave their records

    await asyncio.gather(*(writer(n) for n in range(8)))

    async def abandoned() -> None:
        async with db.unit_of_work() as session:
            await audit.record(session, actor, "test.event", "thing", "rolled-back")
            emit(session, "test.event", "thing", "rolled-back")
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        await abandoned()
    async with db.sessionmaker() as session:
        rows = (
            await session.execute(
                text("SELECT resource_id FROM audit_log WHERE action = 'test.event' ORDER BY id")
            )
        ).all()
        report = await audit.verify_chain(session)
        events = (
            await session.scalars(
                text(
                    "SELECT aggregate_id FROM outbox_events WHERE topic = 'test.event' ORDER BY id"
                )
            )
        ).all()
    ids = [r.resource_id for r in rows]
    assert sorted(events) == sorted(ids)  # nothing from the rolled-back transaction
    assert sorted(ids) == sorted(f"{n}-{i}" for n in range(8) for i in range(3))
    # Each transaction's entries are appended together, in the order they were recorded.
    for n in range(8):
        first = ids.index(f"{n}-0")
        assert ids[first : first + 3] == [f"{n}-0", f"{n}-1", f"{n}-2"]
    assert report.ok


async def test_a_rolled_back_savepoint_drops_only_its_own_audit_entries_and_events(
    committed_runtime: Runtime,
) -> None:
    from pd_prime_demo.audit import service as audit
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.outbox import emit

    actor = Actor.system("tests")

    async def both(session: AsyncSession, name: str) -> None:
        await audit.record(session, actor, "test.savepoint", "thing", name)
        emit(session, "test.savepoint", "thing", name)

    async with committed_runtime.db.unit_of_work() as session:
        await both(session, "kept-before")
        savepoint = await session.begin_nested()
        await both(session, "rolled-back")
        async with session.begin_nested():
            await both(session, "rolled-back-inner")
        await savepoint.rollback()
        async with session.begin_nested():
            await both(session, "kept-released")
        await both(session, "kept-after")
    async with committed_runtime.db.sessionmaker() as session:
        kept = (
            await session.scalars(
                text(
                    "SELECT resource_id FROM audit_log WHERE action = 'test.savepoint' ORDER BY id"
                )
            )
        ).all()
        events = (
            await session.scalars(
                text(
                    "SELECT aggregate_id FROM outbox_events WHERE topic = 'test.savepoint' "
                    "ORDER BY id"
                )
            )
        ).all()
        assert (await audit.verify_chain(session)).ok
    assert kept == ["kept-before", "kept-released", "kept-after"]
    assert events == kept
