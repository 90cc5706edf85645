"""Open WebSockets on /metrics: one more while a socket is open, one fewer once it closed."""

from __future__ import annotations

import asyncio

import uvicorn

from pd_prime_demo.bench.api import free_port
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.telemetry import REGISTRY
from pd_prime_demo.main import create_app
from tests.integration.test_realtime import Server, _login, _socket, _until


def _open() -> float:
    found = REGISTRY.get_sample_value("pd_prime_websocket_connections")
    assert found is not None
    return found


async def test_open_sockets_are_counted_until_they_close(committed_runtime: Runtime) -> None:
    runtime = committed_runtime
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(runtime=runtime), port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    local = Server(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")
    try:
        await _until(lambda: server.started)
        admin = await _login(local, runtime, Role.ADMIN)
        before = _open()
        first, second = await _socket(local, admin), await _socket(local, admin)
        await _until(lambda: _open() == before + 2)
        await first.close()
        await _until(lambda: _open() == before + 1)
        await second.close()
        await _until(lambda: _open() == before)
    finally:
        server.should_exit = True
        await serving
