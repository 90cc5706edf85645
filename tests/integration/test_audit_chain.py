"""The audit chain: written with every change, refused by the database, tampering detected."""

from __future__ import annotations

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.runtime import Runtime
from tests.factories import person, user_login


async def _activity(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    created = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    assert created.status_code == 201


async def test_every_state_change_is_chained(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    await _activity(client, runtime)
    actions = (await session.scalars(text("SELECT action FROM audit_log ORDER BY id"))).all()
    assert actions[-3:] == ["user.created", "auth.login", "customer.created"]
    report = await audit.verify_chain(session)
    assert report.ok
    assert report.entries_checked >= 3


async def test_request_id_is_recorded(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    await client.post(
        "/api/v1/customers", json=person(), headers={**agent.headers, "X-Request-ID": "trace-42"}
    )
    request_id = await session.scalar(
        text("SELECT request_id FROM audit_log WHERE action = 'customer.created'")
    )
    assert request_id == "trace-42"


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log", "TRUNCATE audit_log"],
)
async def test_database_refuses_rewriting_the_log(session: AsyncSession, statement: str) -> None:
    await audit.record(session, Actor.system("tests"), "test.event", "thing", "1")
    await audit.write_pending(session)
    savepoint = await session.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text(statement))
    await savepoint.rollback()
    assert await audit.count_entries(session) >= 1


async def test_tampered_entry_is_named(session: AsyncSession) -> None:
    actor = Actor.system("tests")
    for i in range(4):
        await audit.record(session, actor, "test.event", "thing", str(i))
    entries = await audit.write_pending(session)
    assert (await audit.verify_chain(session)).ok
    # A superuser bypassing triggers (replication role) is the attacker we must still detect.
    await session.execute(text("SET LOCAL session_replication_role = replica"))
    await session.execute(
        text("UPDATE audit_log SET resource_id = 'forged' WHERE id = :id"), {"id": entries[2]}
    )
    await session.execute(text("SET LOCAL session_replication_role = origin"))
    report = await audit.verify_chain(session)
    assert not report.ok
    assert report.first_bad_id == entries[2]
    assert report.reason == "content does not match its hash"


async def test_deleted_entry_is_detected(session: AsyncSession) -> None:
    actor = Actor.system("tests")
    for i in range(3):
        await audit.record(session, actor, "test.event", "thing", str(i))
    entries = await audit.write_pending(session)
    await session.execute(text("SET LOCAL session_replication_role = replica"))
    await session.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": entries[1]})
    await session.execute(text("SET LOCAL session_replication_role = origin"))
    report = await audit.verify_chain(session, batch_size=2)
    assert report.first_bad_id == entries[2]
    assert report.reason is not None
    assert "removed" in report.reason


async def test_audit_api_for_admins_only(client: AsyncClient, runtime: Runtime) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    page = await client.get(
        "/api/v1/audit/entries",
        params={"resource_type": "auth_session", "limit": 1},
        headers=admin.headers,
    )
    assert page.status_code == 200
    assert page.json()["items"][0]["action"] == "auth.login"
    older = await client.get(
        "/api/v1/audit/entries",
        params={"cursor": page.json()["next_cursor"], "resource_id": "none"},
        headers=admin.headers,
    )
    assert older.json()["items"] == []
    verification = await client.post("/api/v1/audit/verification", headers=admin.headers)
    assert verification.json()["ok"] is True
    denied = await client.get("/api/v1/audit/entries", headers=agent.headers)
    assert denied.status_code == 403
