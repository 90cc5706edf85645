"""``pd-prime bench api``: the real server and PostgreSQL under load, beside a bare baseline.

Starts uvicorn (one worker unless told otherwise) on a throwaway database, then drives, for the
same duration and concurrency, ``POST /api/v1/quotes`` (validate, authorise, select the rate
version, rate two packages, underwrite, persist with audit and outbox) and a baseline route that
validates the same body and echoes it, in alternating rounds (see ``bench.load``). It prints
requests per second for both, the server's CPU time per request, and the ratio. The load is
generated from this process with httpx, so both figures share the same client overhead.

Two more rows say where the difference lies. The same request saved as an unrated draft costs
all of it but rating and underwriting. The *floor* is the least any durable, authenticated
quote can cost on this stack: FastAPI validates the same body, the token is verified and its
login session checked, and one asyncpg transaction writes the quote row, its chained audit entry
and its outbox event, with no ORM and no rating (served only by this benchmark).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

import fastapi
import httpx
from fastapi import FastAPI, Header, HTTPException

from pd_prime_demo.bench.load import (
    MakeRequest,
    Request,
    ServerCpu,
    ServerInstructions,
    agent_quote,
    compare,
    describe,
    describe_ratio,
    drive,
)
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.quotes.schemas import QuoteCreate


def bench_app_factory() -> FastAPI:
    """The normal app plus the baseline route (only ever served by this benchmark)."""
    from pd_prime_demo.main import app_factory

    app = app_factory()

    @app.post("/bench/echo-quote", include_in_schema=False)
    async def echo_quote(body: QuoteCreate) -> QuoteCreate:
        return body

    @app.post("/bench/floor-quote", include_in_schema=False, status_code=201)
    async def floor_quote(
        body: QuoteCreate, request: fastapi.Request, authorization: Annotated[str, Header()]
    ) -> QuoteCreate:
        await _store_floor_quote(request.app.state.runtime, authorization, body)
        return body

    from pd_prime_demo.bench.policies import add_bare_routes

    add_bare_routes(app)
    return app


_LIVE_SESSION_SQL = (
    "SELECT u.id, u.role FROM users u JOIN auth_sessions s ON s.user_id = u.id "
    "WHERE u.id = $1 AND u.is_active AND s.id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3"
)
_FLOOR_QUOTE_SQL = (
    "INSERT INTO quotes (id, customer_id, created_by, product_code, state, effective_on, "
    "expires_on, status, risk, options, underwriting, version, created_at, updated_at) VALUES "
    "($1, $2, $3, $4, $5, $6, $7, 'draft', $8, $9, '{\"hits\": []}', 1, $10, $10) RETURNING number"
)


async def _store_floor_quote(runtime: Runtime, authorization: str, body: QuoteCreate) -> None:
    """The floor's work: what a durable, authenticated quote cannot do without."""
    from pd_prime_demo.audit.rules import ChainFields
    from pd_prime_demo.audit.service import AUDIT_CHAIN_LOCK, chain_entry
    from pd_prime_demo.bench.policies import bare_pool
    from pd_prime_demo.core import clock

    verified = runtime.signer.verify(authorization.removeprefix("Bearer "))
    now = clock.now()
    if verified is None or int(verified.claims["exp"]) < now.timestamp():
        raise HTTPException(401)
    quote_id = uuid.uuid4()
    async with (await bare_pool()).acquire() as conn, conn.transaction():
        user = await conn.fetchrow(
            _LIVE_SESSION_SQL,
            uuid.UUID(str(verified.claims["sub"])),
            uuid.UUID(str(verified.claims["sid"])),
            now,
        )
        if user is None:
            raise HTTPException(401)
        actor = f"user:{user['id']}"
        number = await conn.fetchval(
            _FLOOR_QUOTE_SQL,
            quote_id,
            body.customer_id,
            actor,
            body.product_code,
            body.state,
            body.effective_on,
            now.date() + timedelta(days=30),
            body.risk.model_dump_json(),
            json.dumps([o.model_dump(mode="json", exclude_none=True) for o in body.options]),
            now,
        )
        fields = ChainFields(
            now, "user", actor, user["role"], "quote.draft", "quote", str(quote_id), None, {}
        )
        await conn.execute(
            "SELECT audit_chain_append($1, $2::jsonb)",
            AUDIT_CHAIN_LOCK,
            json.dumps([chain_entry(fields)]),
        )
        await conn.execute(
            "INSERT INTO outbox_events (occurred_at, topic, aggregate_type, aggregate_id, "
            "payload) VALUES ($1, 'quote.draft', 'quote', $2, $3)",
            now,
            str(quote_id),
            json.dumps({"number": number}),
        )


def free_port() -> int:
    """A TCP port on the loopback interface that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


Meters = tuple[ServerCpu, ServerInstructions | None]  # the second only under callgrind


def _client(base: str, concurrency: int, *, slow: bool) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # Under callgrind the server runs some fifty times slower than natively.
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=600 if slow else 30)


async def _run(
    base: str,
    seconds: float,
    concurrency: int,
    echo: Callable[[str], object],
    meters: Meters,
) -> dict[str, float]:
    cpu, instructions = meters
    async with _client(base, concurrency, slow=instructions is not None) as client:
        await _ready(client, patient=instructions is not None)
        headers, body = await agent_quote(client)
        probe = await client.post("/api/v1/quotes", json=body, headers=headers)
        assert probe.status_code == 201, probe.text
        quote: Request = ("POST", "/api/v1/quotes", body, headers)
        echoed: Request = ("POST", "/bench/echo-quote", body, headers)
        floor: Request = ("POST", "/bench/floor-quote", body, headers)
        # The same request saved as an unrated draft: the difference is what rating and
        # underwriting cost inside a full request.
        draft: Request = ("POST", "/api/v1/quotes", {**body, "submit": False}, headers)
        for request in (quote, echoed, floor, draft):  # warm up
            await drive(client, _always(request), seconds=0.5, concurrency=concurrency)
        compared, floored = [
            await compare(
                client,
                _always(real),
                _always(echoed),
                seconds=seconds,
                concurrency=concurrency,
                cpu=cpu,
                instructions=instructions,
            )
            for real in (quote, floor)
        ]
        drafts = await drive(
            client,
            _always(draft),
            seconds=seconds / 2,
            concurrency=concurrency,
            cpu=cpu,
            instructions=instructions,
        )
        echo(describe("echo (validate + echo)", compared.baseline))
        echo(describe("POST /api/v1/quotes", compared.real))
        echo(describe("... as draft, unrated", drafts))
        echo(describe("floor (raw SQL, unrated)", floored.real))
        echo(describe_ratio("quote / echo throughput", compared))
        echo(describe_ratio("floor / echo throughput", floored))
        rating_share = compared.real.rate / drafts.rate if drafts.rate else 0.0
        echo(f"  quote / draft throughput: {rating_share:.0%} (what rating and underwriting cost)")
        return {
            "echo (validate + echo)": compared.baseline.rate,
            "POST /api/v1/quotes": compared.real.rate,
            "... as draft, unrated": drafts.rate,
            "floor (raw SQL, unrated)": floored.real.rate,
            "ratio": compared.ratio,
            "floor ratio": floored.ratio,
        }


def _always(request: Request) -> MakeRequest:
    return lambda: request


async def _ready(client: httpx.AsyncClient, *, patient: bool = False) -> None:
    # Under callgrind the interpreter runs some fifty times slower: importing the app (about
    # 2-4 s of CPU natively, more on a loaded machine) takes minutes.
    for _ in range(6000 if patient else 150):
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
    meters: Meters,
) -> dict[str, float]:
    from pd_prime_demo.bench.policies import run_policy_suite

    cpu, instructions = meters
    async with _client(base, concurrency, slow=instructions is not None) as client:
        await _ready(client, patient=instructions is not None)
        return await run_policy_suite(
            client,
            database_url,
            seconds=seconds,
            concurrency=concurrency,
            echo=echo,
            cpu=cpu,
            instructions=instructions,
        )


def run_api_benchmark(
    *,
    seconds: float = 10,
    concurrency: int = 16,
    suite: str = "quotes",
    workers: int = 1,
    callgrind: bool = False,
    echo: Callable[[str], object] = print,
) -> dict[str, float]:
    """Runs on a throwaway database created on the configured (or embedded) server.

    ``callgrind`` runs the server under valgrind's callgrind and adds the instructions it
    executed per request: throughput is then meaningless, but the count is repeatable.
    """
    launch = server_command(free_port(), workers=workers, callgrind=callgrind)
    from pd_prime_demo import bootstrap
    from pd_prime_demo.core.database import create_database, drop_database

    base = bootstrap.settings(demo=True)
    assert base.database_url is not None
    scratch = asyncio.run(create_database(base.database_url, f"pd_prime_bench_{os.getpid()}"))
    settings = base.model_copy(update={"database_url": scratch})
    env = {
        **os.environ,
        "DATABASE_URL": scratch,
        "PD_PRIME_ENV": "demo",
        "PD_PRIME_LOG_LEVEL": "WARNING",
        "PD_PRIME_DATA_DIR": str(settings.data_dir),
        # One load generator is one client address: the limits would measure themselves.
        "PD_PRIME_RATE_LIMITS_ENABLED": "false",
    }
    try:
        bootstrap.migrate(settings)
        asyncio.run(bootstrap.seed(settings))
        return _serve_and_measure(env, launch, seconds, concurrency, suite, scratch, echo)
    finally:
        asyncio.run(drop_database(base.database_url, scratch))


class SetupError(ValueError):
    """The benchmark cannot run as asked on this machine (said before anything starts)."""


@dataclass(frozen=True, slots=True)
class Launch:
    """How the benchmark starts its server."""

    argv: list[str]
    port: int
    workers: int
    callgrind: bool


BENCH_APP = "pd_prime_demo.bench.api:bench_app_factory"


def server_command(port: int, *, workers: int, callgrind: bool, factory: str = BENCH_APP) -> Launch:
    """The command line that serves ``factory`` with uvicorn (by default the benchmark app;
    under callgrind when asked: one worker only)."""
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    if callgrind:
        if workers != 1:
            raise SetupError("--callgrind counts one server process: use one worker")
        valgrind = shutil.which("valgrind")
        if valgrind is None or shutil.which("callgrind_control") is None:
            raise SetupError("--callgrind needs valgrind (Debian's package valgrind)")
        # The counts are read live (callgrind_control -e), so nothing is written at exit.
        argv = [valgrind, "-q", "--tool=callgrind", "--callgrind-out-file=/dev/null", *argv]
    return Launch(argv, port, workers, callgrind)


def _serve_and_measure(
    env: dict[str, str],
    launch: Launch,
    seconds: float,
    concurrency: int,
    suite: str,
    database_url: str,
    echo: Callable[[str], object],
) -> dict[str, float]:
    server = subprocess.Popen(launch.argv, env=env)  # noqa: S603 - our interpreter and module
    try:
        workers = f"{launch.workers} worker{'s' if launch.workers > 1 else ''}"
        echo(
            f"API benchmark: uvicorn ({workers}{', under callgrind' if launch.callgrind else ''})"
            f" on :{launch.port}, {concurrency} concurrent clients, {seconds:.0f} s per endpoint"
        )
        base_url = f"http://127.0.0.1:{launch.port}"
        meters: Meters = (
            ServerCpu(server.pid),
            ServerInstructions(server.pid) if launch.callgrind else None,
        )
        if suite == "policies":
            return asyncio.run(
                _run_policies(base_url, database_url, seconds, concurrency, echo, meters)
            )
        return asyncio.run(_run(base_url, seconds, concurrency, echo, meters))
    finally:
        server.terminate()
        server.wait(timeout=300)  # a server under callgrind takes a while to stop
