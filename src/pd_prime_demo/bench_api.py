"""``pd-prime bench api``: the real server and PostgreSQL under load, beside a bare baseline.

Starts uvicorn (one worker unless told otherwise) on a throwaway database, then drives, for the
same duration and concurrency, ``POST /api/v1/quotes`` (validate, authorise, select the rate
version, rate two packages, underwrite, persist with audit and outbox) and a baseline route that
validates the same body and echoes it, in alternating rounds (see ``bench_load``). It prints
requests per second for both, the server's CPU time per request, and the ratio. The load is
generated from this process with httpx, so both figures share the same client overhead.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import Callable

import httpx
from fastapi import FastAPI

from pd_prime_demo.bench_load import (
    Request,
    ServerCpu,
    agent_quote,
    compare,
    describe,
    drive,
)
from pd_prime_demo.quotes.schemas import QuoteCreate


def bench_app_factory() -> FastAPI:
    """The normal app plus the baseline route (only ever served by this benchmark)."""
    from pd_prime_demo.main import app_factory

    app = app_factory()

    @app.post("/bench/echo-quote", include_in_schema=False)
    async def echo_quote(body: QuoteCreate) -> QuoteCreate:
        return body

    from pd_prime_demo.bench_policies import add_bare_routes

    add_bare_routes(app)
    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _run(
    base: str, seconds: float, concurrency: int, echo: Callable[[str], object], cpu: ServerCpu
) -> dict[str, float]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await _ready(client)
        headers, body = await agent_quote(client)
        probe = await client.post("/api/v1/quotes", json=body, headers=headers)
        assert probe.status_code == 201, probe.text
        quote: Request = ("POST", "/api/v1/quotes", body, headers)
        echoed: Request = ("POST", "/bench/echo-quote", body, headers)
        # The same request saved as an unrated draft: the difference is what rating and
        # underwriting cost inside a full request.
        draft: Request = ("POST", "/api/v1/quotes", {**body, "submit": False}, headers)
        for request in (quote, echoed, draft):  # warm up

            def same(r: Request = request) -> Request:
                return r

            await drive(client, same, seconds=0.5, concurrency=concurrency)
        compared = await compare(
            client,
            lambda: quote,
            lambda: echoed,
            seconds=seconds,
            concurrency=concurrency,
            cpu=cpu,
        )
        drafts = await drive(
            client, lambda: draft, seconds=seconds / 2, concurrency=concurrency, cpu=cpu
        )
        echo(describe("echo (validate + echo)", compared.baseline))
        echo(describe("POST /api/v1/quotes", compared.real))
        echo(describe("... as draft, unrated", drafts))
        echo(f"  quote / echo throughput: {compared.ratio:.0%} (target >= 85%)")
        return {
            "echo (validate + echo)": compared.baseline.rate,
            "POST /api/v1/quotes": compared.real.rate,
            "... as draft, unrated": drafts.rate,
            "ratio": compared.ratio,
        }


async def _ready(client: httpx.AsyncClient) -> None:
    for _ in range(150):
        try:
            if (await client.get("/health/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the benchmark server did not become ready")


async def _run_policies(
    base: str,
    database_url: str,
    seconds: float,
    concurrency: int,
    echo: Callable[[str], object],
    cpu: ServerCpu,
) -> dict[str, float]:
    from pd_prime_demo.bench_policies import run_policy_suite

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await _ready(client)
        return await run_policy_suite(
            client, database_url, seconds=seconds, concurrency=concurrency, echo=echo, cpu=cpu
        )


def run_api_benchmark(
    *,
    seconds: float = 10,
    concurrency: int = 16,
    suite: str = "quotes",
    workers: int = 1,
    echo: Callable[[str], object] = print,
) -> dict[str, float]:
    """Runs on a throwaway database created on the configured (or embedded) server."""
    from pd_prime_demo.cli import _migrate, _seed, _settings
    from pd_prime_demo.core.database import create_database, drop_database

    base = _settings(demo=True)
    assert base.database_url is not None
    scratch = asyncio.run(create_database(base.database_url, f"pd_prime_bench_{os.getpid()}"))
    settings = base.model_copy(update={"database_url": scratch})
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": scratch,
        "PD_PRIME_ENV": "demo",
        "PD_PRIME_LOG_LEVEL": "WARNING",
        "PD_PRIME_DATA_DIR": str(settings.data_dir),
    }
    try:
        _migrate(settings)
        asyncio.run(_seed(settings))
        return _serve_and_measure(env, port, seconds, concurrency, suite, scratch, echo, workers)
    finally:
        asyncio.run(drop_database(base.database_url, scratch))


def _serve_and_measure(
    env: dict[str, str],
    port: int,
    seconds: float,
    concurrency: int,
    suite: str,
    database_url: str,
    echo: Callable[[str], object],
    workers: int,
) -> dict[str, float]:
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "pd_prime_demo.bench_api:bench_app_factory",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ],
        env=env,
    )
    try:
        echo(
            f"API benchmark: uvicorn ({workers} worker{'s' if workers > 1 else ''}) on :{port}, "
            f"{concurrency} concurrent clients, "
            f"{seconds:.0f} s per endpoint"
        )
        base_url = f"http://127.0.0.1:{port}"
        cpu = ServerCpu(server.pid)
        if suite == "policies":
            return asyncio.run(
                _run_policies(base_url, database_url, seconds, concurrency, echo, cpu)
            )
        return asyncio.run(_run(base_url, seconds, concurrency, echo, cpu))
    finally:
        server.terminate()
        server.wait(timeout=10)
