"""The database out of reach: a lost or refused connection answers 503 and nothing is applied."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.database import Database
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.conftest import make_settings
from tests.factories import login, user_login


async def test_lost_connection_is_a_503_then_recovers(committed_runtime: Runtime) -> None:
    app = create_app(runtime=committed_runtime)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        admin = await user_login(client, committed_runtime, Role.ADMIN)
        assert (await client.get("/api/v1/users/me", headers=admin.headers)).status_code == 200
        # Kill every server connection the pool holds, as a database restart would.
        engine = committed_runtime.db.engine
        async with engine.connect() as conn:
            name = await conn.scalar(text("SELECT current_database()"))
        raw = await asyncpg.connect(
            engine.url.set(drivername="postgresql", database="postgres").render_as_string(
                hide_password=False
            )
        )
        try:
            await raw.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        finally:
            await raw.close()
        lost = await client.get("/api/v1/users/me", headers=admin.headers)
        assert lost.status_code == 503, lost.text
        assert lost.headers["Retry-After"] == "1"
        assert lost.json()["code"] == "service.database_unavailable"
        recovered = await client.get("/api/v1/users/me", headers=admin.headers)
        assert recovered.status_code == 200, recovered.text


async def test_unreachable_database_is_a_503(settings: Settings) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = Database.connect(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/nowhere")
    runtime = Runtime.create(settings, db=db)
    app = create_app(runtime=runtime)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": "a@example.com", "password": "x" * 12},
        )
    await runtime.close()
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.json()["code"] == "service.database_unavailable"


# --- login sessions: a user's list, revocation, idle and absolute lifetimes (issue 13) ---


async def test_a_user_lists_and_ends_their_own_sessions(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    laptop = await login(client, agent.email)
    laptop_headers = {"Authorization": f"Bearer {laptop['access_token']}"}
    listed = await client.get("/api/v1/account/sessions", headers=agent.headers)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert len(items) == 2
    assert sum(s["current"] for s in items) == 1
    assert {s["method"] for s in items} == {"password"}
    other = next(s["id"] for s in items if not s["current"])
    someone = await user_login(client, runtime, Role.AGENT)
    foreign = await client.delete(f"/api/v1/account/sessions/{other}", headers=someone.headers)
    assert foreign.status_code == 404, "another user's session is not theirs to see"
    assert (await client.get("/api/v1/users/me", headers=laptop_headers)).status_code == 200
    ended = await client.delete(f"/api/v1/account/sessions/{other}", headers=agent.headers)
    assert ended.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=laptop_headers)).status_code == 401
    refresh = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": laptop["refresh_token"]},
    )
    assert refresh.status_code == 401
    left = (await client.get("/api/v1/account/sessions", headers=agent.headers)).json()["items"]
    assert [s["current"] for s in left] == [True]


async def _refresh(client: AsyncClient, refresh_token: str) -> Any:
    return await client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token}
    )


async def test_a_session_ends_when_idle_and_at_its_absolute_lifetime(
    client: AsyncClient, runtime: Runtime
) -> None:
    runtime.settings = make_settings(
        str(runtime.settings.database_url),
        redis_url=runtime.settings.redis_url,
        session_idle_seconds=600,
        session_absolute_seconds=1500,
    )
    start = datetime.now(UTC)
    with clock.frozen_at(start):
        agent = await user_login(client, runtime, Role.AGENT)
        idle = await login(client, agent.email)
    # Used every 500 s, the session lives on (each refresh starts a new idle period)...
    refresh_token = agent.refresh_token
    for minutes in (500, 1000):
        with clock.frozen_at(start + timedelta(seconds=minutes)):
            renewed = await _refresh(client, refresh_token)
            assert renewed.status_code == 200, (minutes, renewed.text)
            refresh_token = renewed.json()["refresh_token"]
    # ...but not past its absolute lifetime, however recently it was used.
    with clock.frozen_at(start + timedelta(seconds=1400)):
        renewed = await _refresh(client, refresh_token)
        assert renewed.status_code == 200
        late_access = renewed.json()["access_token"]
        refresh_token = renewed.json()["refresh_token"]
    with clock.frozen_at(start + timedelta(seconds=1501)):
        assert (await _refresh(client, refresh_token)).status_code == 401
        me = await client.get(
            "/api/v1/users/me", headers={"Authorization": f"Bearer {late_access}"}
        )
        assert me.status_code == 401, "the session's absolute end ends its access tokens too"
    # The session left alone for longer than the idle lifetime cannot be renewed.
    with clock.frozen_at(start + timedelta(seconds=601)):
        assert (await _refresh(client, idle["refresh_token"])).status_code == 401


async def test_the_refresh_grace_period_is_audited_as_suspected_reuse(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    won = await _refresh(client, agent.refresh_token)
    assert won.status_code == 200, won.text
    again = await _refresh(client, agent.refresh_token)  # the previous token, at once
    assert again.status_code == 401
    assert again.json()["code"] == "auth.refresh_token_superseded"
    headers = {"Authorization": f"Bearer {won.json()['access_token']}"}
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    async with runtime.db.unit_of_work() as session:
        audited = await session.scalar(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'auth.refresh_reuse_suspected' "
                "AND actor_id = :u"
            ),
            {"u": str(agent.user_id)},
        )
    assert audited == 1
