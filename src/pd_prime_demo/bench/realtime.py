"""Live updates' latency: from a commit to the WebSocket message that announces it.

:func:`measure_latency` opens a live-updates socket on a running server (whose process, or a
``pd-prime worker`` beside it, runs the relay), then commits one event at a time straight into
the database and times each until its message arrives: the relay's wake-up on the outbox
trigger, its numbering transaction and NOTIFY, the server's one listener reading the batch,
the fan-out and the send. The events are company events of a topic of their own, so only
company-wide staff sockets receive them; the caller passes such a login's bearer headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid

import httpx
from websockets.asyncio.client import ClientConnection, connect

from pd_prime_demo.bench.load import percentile
from pd_prime_demo.core.database import Database
from pd_prime_demo.core.outbox import emit

TOPIC = "bench.realtime"


async def measure_latency(
    base_url: str,
    database_url: str,
    headers: dict[str, str],
    *,
    samples: int = 200,
    patience: float = 10.0,
) -> dict[str, float]:
    """Commit ``samples`` events one after another; the commit-to-message latency in
    milliseconds (p50, p99, max) and how many messages arrived within ``patience`` seconds."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        issued = await client.post("/api/v1/realtime/tickets", headers=headers)
        issued.raise_for_status()
        ticket = issued.json()["ticket"]
    socket_url = base_url.replace("http", "ws", 1) + f"/api/v1/realtime/ws?ticket={ticket}"
    db = Database.connect(database_url, pool_size=1, max_overflow=0)
    latencies: list[float] = []
    try:
        async with connect(socket_url, open_timeout=patience) as ws:
            # Without last_event_id a socket follows from the moment its subscription starts,
            # a little after the handshake: the samples start once a warm-up event arrives.
            await _warm_up(ws, db, patience)
            for _ in range(samples):
                key = uuid.uuid4().hex
                async with db.unit_of_work() as session:
                    emit(session, TOPIC, "bench", key, {})
                committed = time.perf_counter()
                try:
                    await asyncio.wait_for(_until(ws, key), timeout=patience)
                except TimeoutError:
                    continue
                latencies.append((time.perf_counter() - committed) * 1000)
    finally:
        await db.dispose()
    if not latencies:
        return {"received": 0.0, "samples": float(samples)}
    return {
        "samples": float(samples),
        "received": float(len(latencies)),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2),
    }


async def _warm_up(ws: ClientConnection, db: Database, patience: float) -> None:
    deadline = time.perf_counter() + patience
    while time.perf_counter() < deadline:
        key = uuid.uuid4().hex
        async with db.unit_of_work() as session:
            emit(session, TOPIC, "bench-warm-up", key, {})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_until(ws, key), timeout=0.5)
            return


async def _until(ws: ClientConnection, key: str) -> None:
    while True:
        message = json.loads(await ws.recv())
        if message.get("type") == TOPIC and message.get("aggregate_id") == key:
            return
