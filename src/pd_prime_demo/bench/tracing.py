"""``pd-prime bench tracing``: what tracing costs a quote and a bind, in one run.

The same server (uvicorn, one worker, on a throwaway database) is started once per setting and
driven with ``POST /api/v1/quotes`` and ``POST /api/v1/quotes/{id}/bind`` for the same time and
concurrency:

- *off*: ``OTEL_SDK_DISABLED=true`` (no spans, no ids, no instrumentation);
- *no exporter*: tracing on, nothing configured to receive it: spans get ids for the logs and
  the ``traceparent`` header but none is recorded (the default sampler then);
- *no exporter, every span recorded*: the same with ``OTEL_TRACES_SAMPLER=always_on``, every
  span built and then dropped (what the default above saves);
- *OTLP*: tracing on, exported by the batch processor over OTLP/HTTP to a sink this command
  runs (it accepts ``POST /v1/traces`` and counts requests and bytes);
- *OTLP, multiprocess metrics*: the same with prometheus-client's multiprocess mode, as
  ``pd-prime serve --workers N`` runs it;

It prints requests per second and the server's CPU per request beside the *off* figures. CPU
per request is the figure to read on a small machine: the load generator shares the cores, so
throughput moves with it, CPU time does not.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asyncpg
import httpx
from sqlalchemy import make_url

from pd_prime_demo.bench.api import free_port, server_command
from pd_prime_demo.bench.load import MakeRequest, Request, Run, ServerCpu, agent_quote, drive

TRACING_APP = "pd_prime_demo.main:app_factory"
_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"


class OtlpSink:
    """A local OTLP/HTTP receiver that only counts what it is sent."""

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("content-length", 0))
                self.rfile.read(size)
                sink.requests += 1
                sink.bytes += size
                self.send_response(200 if self.path == "/v1/traces" else 404)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> OtlpSink:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    env: dict[str, str]
    factory: str = TRACING_APP


@dataclass(frozen=True, slots=True)
class Measured:
    setting: Setting
    quote: Run
    bind: Run
    exported_bytes: int = 0
    export_requests: int = 0


def settings(sink: OtlpSink, metrics_dir: str) -> list[Setting]:
    otlp = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_BSP_SCHEDULE_DELAY": "500"}
    return [
        Setting("off (OTEL_SDK_DISABLED)", {"OTEL_SDK_DISABLED": "true"}),
        Setting("on, no exporter", {}),
        Setting("on, no exporter, all recorded", {"OTEL_TRACES_SAMPLER": "always_on"}),
        Setting("on, OTLP exporter", otlp),
        Setting("on, OTLP, multiprocess metrics", {**otlp, _MULTIPROC: metrics_dir}),
    ]


async def _clone_quotes(database_url: str, template: str, count: int) -> list[str]:
    """``count`` copies of a quoted quote, made in SQL: every bind consumes one."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        columns = ", ".join(
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'quotes' "
                "AND column_name NOT IN ('id', 'number')"
            )
        )
        rows = await conn.fetch(
            f"INSERT INTO quotes (id, {columns}) SELECT gen_random_uuid(), {columns} "  # noqa: S608
            "FROM quotes CROSS JOIN generate_series(1, $2) WHERE id = $1 RETURNING id",
            uuid.UUID(template),
            count,
        )
    finally:
        await conn.close()
    return [str(r["id"]) for r in rows]


async def _measure(
    base: str, database_url: str, cpu: ServerCpu, seconds: float, concurrency: int
) -> tuple[Run, Run]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        for _ in range(150):
            try:
                if (await client.get("/health/ready")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError("the benchmark server did not become ready")
        headers, body = await agent_quote(client)
        quote: Request = ("POST", "/api/v1/quotes", body, headers)
        template = (await client.post("/api/v1/quotes", json=body, headers=headers)).json()["id"]
        pool = await _clone_quotes(database_url, template, int(seconds * 400) + 200)

        def bind() -> Request | None:
            if not pool:
                return None
            return ("POST", f"/api/v1/quotes/{pool.pop()}/bind", {"option": "standard"}, headers)

        always: MakeRequest = lambda: quote  # noqa: E731
        await drive(client, always, seconds=1, concurrency=concurrency)  # warm up
        await drive(client, bind, seconds=1, concurrency=concurrency)
        quoted = await drive(client, always, seconds=seconds, concurrency=concurrency, cpu=cpu)
        bound = await drive(client, bind, seconds=seconds, concurrency=concurrency, cpu=cpu)
        return quoted, bound


def run_tracing_benchmark(
    *, seconds: float = 8, concurrency: int = 8, echo: Callable[[str], object] = print
) -> list[Measured]:
    from pd_prime_demo import bootstrap
    from pd_prime_demo.core.database import create_database, drop_database

    base = bootstrap.settings(demo=True)
    assert base.database_url is not None
    scratch = asyncio.run(create_database(base.database_url, f"pd_prime_bench_{os.getpid()}"))
    configured = base.model_copy(update={"database_url": scratch})
    results: list[Measured] = []
    try:
        bootstrap.migrate(configured)
        asyncio.run(bootstrap.seed(configured))
        with OtlpSink() as sink, tempfile.TemporaryDirectory() as metrics_dir:
            echo(
                f"Tracing benchmark: uvicorn (1 worker), {concurrency} concurrent clients, "
                f"{seconds:.0f} s per endpoint and setting; OTLP sink at {sink.url}"
            )
            for setting in settings(sink, metrics_dir):
                sent_before, bytes_before = sink.requests, sink.bytes
                quote, bind = _serve(setting, scratch, configured, seconds, concurrency)
                results.append(
                    Measured(
                        setting, quote, bind, sink.bytes - bytes_before, sink.requests - sent_before
                    )
                )
                echo(_row(results[-1], results[0]))
    finally:
        asyncio.run(drop_database(base.database_url, scratch))
    return results


def _serve(
    setting: Setting, database_url: str, configured: object, seconds: float, concurrency: int
) -> tuple[Run, Run]:
    launch = server_command(free_port(), workers=1, callgrind=False, factory=setting.factory)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("OTEL_") and key != _MULTIPROC
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "PD_PRIME_ENV": "demo",
            "PD_PRIME_LOG_LEVEL": "WARNING",
            "PD_PRIME_DATA_DIR": str(getattr(configured, "data_dir", ".pd-prime")),
            "PD_PRIME_RATE_LIMITS_ENABLED": "false",
            **setting.env,
        }
    )
    server = subprocess.Popen(launch.argv, env=env)  # noqa: S603 - our interpreter and module
    try:
        cpu = ServerCpu(server.pid)
        base = f"http://127.0.0.1:{launch.port}"
        return asyncio.run(_measure(base, database_url, cpu, seconds, concurrency))
    finally:
        server.terminate()  # the exporter flushes what it holds at exit
        server.wait(timeout=60)


def _row(measured: Measured, off: Measured) -> str:
    def figures(run: Run, baseline: Run) -> str:
        cpu = run.server_cpu_ms or 0.0
        base_cpu = baseline.server_cpu_ms or 0.0
        ratio = f"{run.rate / baseline.rate:4.0%}" if baseline.rate else "  - "
        cpu_ratio = f"{cpu / base_cpu:4.0%}" if base_cpu else "  - "
        return f"{run.rate:7.1f} req/s ({ratio}) {cpu:6.2f} ms CPU ({cpu_ratio})"

    line = (
        f"  {measured.setting.name:<32} quote {figures(measured.quote, off.quote)}"
        f" | bind {figures(measured.bind, off.bind)}"
    )
    failed = measured.quote.failed + measured.bind.failed
    if failed:
        line += f" [{failed} failed]"
    if measured.export_requests:
        line += (
            f" | exported {measured.exported_bytes / 1024:.0f} KiB"
            f" in {measured.export_requests} posts"
        )
    return line
