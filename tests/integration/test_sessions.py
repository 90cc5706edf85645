"""The database out of reach: a lost or refused connection answers 503 and nothing is applied."""

from __future__ import annotations

import socket

import asyncpg
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.database import Database
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.factories import user_login


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
