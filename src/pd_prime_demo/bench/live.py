"""``pd-prime bench realtime``: commit-to-WebSocket latency of live updates, through a real
server process (its relay and worker in the process, as ``make demo`` runs it, or a separate
``pd-prime worker`` beside it) on a throwaway database, measured by
:func:`bench.realtime.measure_latency`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable

import httpx

from pd_prime_demo import bootstrap
from pd_prime_demo.bench.api import free_port, server_command
from pd_prime_demo.bench.realtime import measure_latency
from pd_prime_demo.core.database import create_database, drop_database


async def _ready(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(300):
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the benchmark server did not become ready")


async def _admin(base: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base) as client:
        tokens = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "admin@demo.pdprime.example",
                "password": "prime-demo-pass",
            },
        )
        tokens.raise_for_status()
    return {"Authorization": f"Bearer {tokens.json()['access_token']}"}


def run_realtime_benchmark(
    *, samples: int = 300, separate_worker: bool = False, echo: Callable[[str], object] = print
) -> dict[str, float]:
    base_settings = bootstrap.settings(demo=True)
    assert base_settings.database_url is not None
    scratch = asyncio.run(
        create_database(base_settings.database_url, f"pd_prime_bench_live_{os.getpid()}")
    )
    settings = base_settings.model_copy(update={"database_url": scratch})
    env = {
        **os.environ,
        "DATABASE_URL": scratch,
        "PD_PRIME_ENV": "demo",
        "PD_PRIME_LOG_LEVEL": "WARNING",
        "PD_PRIME_DATA_DIR": str(settings.data_dir),
        # One load generator is one client address: the limits would measure themselves.
        "PD_PRIME_RATE_LIMITS_ENABLED": "false",
        "PD_PRIME_EMBEDDED_WORKER": "false" if separate_worker else "true",
    }
    launch = server_command(free_port(), workers=1, callgrind=False)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        bootstrap.migrate(settings)
        asyncio.run(bootstrap.seed(settings))
        processes.append(subprocess.Popen(launch.argv, env=env))  # noqa: S603 - our module
        if separate_worker:
            worker = [sys.executable, "-m", "pd_prime_demo.cli", "worker"]
            processes.append(subprocess.Popen(worker, env=env))  # noqa: S603 - our module
        base = f"http://127.0.0.1:{launch.port}"
        asyncio.run(_ready(base))
        headers = asyncio.run(_admin(base))
        where = "a pd-prime worker beside the server" if separate_worker else "the server"
        echo(f"live updates: {samples} events committed one at a time, the relay in {where}")
        figures = asyncio.run(measure_latency(base, scratch, headers, samples=samples))
        echo(
            f"  commit -> WebSocket message: p50 {figures.get('p50_ms', 0):.1f} ms, "
            f"p99 {figures.get('p99_ms', 0):.1f} ms, max {figures.get('max_ms', 0):.1f} ms "
            f"({figures['received']:.0f} of {samples} received)"
        )
        return figures
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        asyncio.run(drop_database(base_settings.database_url, scratch))
