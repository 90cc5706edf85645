"""A PostgreSQL that is still starting (SQLSTATE 57P03) makes the API answer 503, not 500.

The peer is a real socket speaking PostgreSQL's wire protocol just far enough to say what a
starting server says: it declines TLS, reads the startup message and answers with the FATAL
error "the database system is starting up".
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from httpx import ASGITransport, AsyncClient

from pd_prime_demo.core.database import Database
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.conftest import make_settings

SSL_REQUEST = 80877103


def _error(sqlstate: str, message: str) -> bytes:
    fields = b"".join(
        kind + value.encode() + b"\x00"
        for kind, value in ((b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message))
    )
    body = fields + b"\x00"
    return b"E" + struct.pack("!I", len(body) + 4) + body


async def _starting_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            length = struct.unpack("!I", await reader.readexactly(4))[0]
            payload = await reader.readexactly(length - 4)
            if length == 8 and struct.unpack("!I", payload)[0] == SSL_REQUEST:
                writer.write(b"N")  # no TLS: the client sends its startup message in clear
                await writer.drain()
                continue
            writer.write(_error("57P03", "the database system is starting up"))
            await writer.drain()
            break
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def starting_database() -> AsyncIterator[str]:
    server = await asyncio.start_server(_starting_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/pd_prime"
    finally:
        server.close()
        await server.wait_closed()


async def test_requests_and_readiness_answer_503_with_retry_after(starting_database: str) -> None:
    runtime = Runtime.create(
        make_settings(starting_database, redis_url=None), db=Database.connect(starting_database)
    )
    app = create_app(runtime=runtime)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with AsyncClient(transport=transport, base_url="http://t") as client:
            login = await client.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": "a@example.com", "password": "x" * 12},
            )
            assert login.status_code == 503, login.text
            assert login.headers["Retry-After"] == "1"
            assert login.json()["code"] == "service.database_unavailable"
            ready = await client.get("/health/ready")
            assert ready.status_code == 503
            assert ready.headers["Retry-After"]
            assert ready.json()["checks"]["database"]["ok"] is False
    finally:
        await runtime.close()
