"""Traces as an operator follows them: a request's server span with its business span and SQL
statements under it, the trace id in its log lines and in the ``traceparent`` it answers
with, a caller's trace continued, and the jobs a request sets off in the request's trace.

Spans are recorded only while a test holds the ``spans`` fixture (tests/tracing_support.py).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Sequence

import pytest
import structlog
from httpx import ASGITransport, AsyncClient, Response
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.logging import configure_logging
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.telemetry import JOB_RUNS
from pd_prime_demo.main import create_app
from pd_prime_demo.worker import run_worker
from tests.api.test_webhook_subscriptions import bearer, register_client
from tests.factories import Login, auto_quote, person, user_login
from tests.integration.webhook_receiver import (
    api,
    listening,
    quote_for_new_customer,
    subscribe,
    work,
)

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The app's JSON log lines, as configured in production, in a buffer."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging("INFO", json=True, stream=buffer)
    yield buffer
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _server_span(found: Sequence[ReadableSpan], response: Response) -> ReadableSpan:
    """The server span that answered ``response`` (by the request id it carries)."""
    (span,) = (
        s
        for s in found
        if s.kind == SpanKind.SERVER
        and (s.attributes or {}).get("pd_prime.request_id") == response.headers["x-request-id"]
    )
    return span


def _under(found: Sequence[ReadableSpan], ancestor: ReadableSpan) -> list[ReadableSpan]:
    """The spans below ``ancestor`` in its trace, at any depth."""
    assert ancestor.context is not None
    below, frontier = [], {ancestor.context.span_id}
    while frontier:
        level = [s for s in found if s.parent is not None and s.parent.span_id in frontier]
        below += level
        frontier = {s.context.span_id for s in level if s.context is not None}
    return below


def _attributes(spans: Sequence[ReadableSpan]) -> list[dict[str, object]]:
    return [dict(s.attributes or {}) for s in spans]


def _sql(spans: Sequence[ReadableSpan]) -> list[str]:
    return [
        str(a["db.statement"])
        for a in _attributes(spans)
        if "db.statement" in a and a.get("db.system") != "redis"
    ]


async def _quote(client: AsyncClient, agent: Login, customer: dict[str, object]) -> str:
    created = await client.post("/api/v1/customers", json=customer, headers=agent.headers)
    assert created.status_code == 201, created.text
    quote = await client.post(
        "/api/v1/quotes", json=auto_quote(created.json()["id"]), headers=agent.headers
    )
    assert quote.status_code == 201, quote.text
    return str(quote.json()["id"])


async def test_a_bind_is_one_trace_from_the_request_to_its_sql_statements(
    client: AsyncClient, runtime: Runtime, spans: InMemorySpanExporter, log_lines: io.StringIO
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    customer = person(last_name="Quaglieri")
    quote_id = await _quote(client, agent, customer)
    spans.clear()

    bound = await client.post(
        f"/api/v1/quotes/{quote_id}/bind", json={"option": "standard"}, headers=agent.headers
    )

    assert bound.status_code == 201, bound.text
    found = spans.get_finished_spans()
    server = _server_span(found, bound)
    assert server.name == "POST /api/v1/quotes/{quote_id}/bind"
    assert server.attributes is not None
    assert server.context is not None
    assert server.attributes["http.route"] == "/api/v1/quotes/{quote_id}/bind"
    assert server.attributes["http.response.status_code"] == 201
    assert server.parent is None  # the caller sent no trace context: a new trace
    (bind,) = (s for s in _under(found, server) if s.name == "policy.bind")
    assert bind.attributes is not None
    assert bind.attributes["pd_prime.outcome"] == "bound"
    statements = _sql(_under(found, bind))
    assert any(s.startswith("INSERT INTO policies") for s in statements), statements
    assert any(s.lstrip().startswith("SELECT") and "FROM quotes" in s for s in statements)
    # The SQL text with its placeholders, never the values bound to them.
    assert all(quote_id not in s for s in _sql(found))
    everything = json.dumps([dict(s.attributes or {}) for s in found])
    assert "Quaglieri" not in everything
    assert str(customer["email"]) not in everything
    assert "/*" not in "".join(statements)  # no sqlcommenter comments
    # Redis commands (rate limits, sessions) are recorded with their arguments hidden: keys
    # name accounts and addresses.
    redis = [str(a["db.statement"]) for a in _attributes(found) if a.get("db.system") == "redis"]
    if runtime.settings.redis_url is not None:
        assert redis
    assert all(set(command.split()[1:]) <= {"?"} for command in redis), redis

    trace_id, span_id = _hex(server.context.trace_id, 32), _hex(server.context.span_id, 16)
    flags = int(server.context.trace_flags)
    assert flags & 1  # sampled
    assert bound.headers["traceparent"] == f"00-{trace_id}-{span_id}-{flags:02x}"
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    (access,) = (
        line
        for line in lines
        if line["event"] == "http.request"
        and line.get("request_id") == bound.headers["x-request-id"]
    )
    assert access["trace_id"] == trace_id
    assert access["span_id"] == span_id


async def test_a_callers_trace_context_is_continued(
    client: AsyncClient, spans: InMemorySpanExporter
) -> None:
    response = await client.get(
        "/api/v1/products",
        headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", "tracestate": "vendor=1"},
    )

    server = _server_span(spans.get_finished_spans(), response)
    assert server.context is not None
    assert server.parent is not None
    assert _hex(server.context.trace_id, 32) == CALLER_TRACE
    assert _hex(server.parent.span_id, 16) == CALLER_SPAN
    version, trace_id, span_id, flags = response.headers["traceparent"].split("-")
    assert (version, trace_id, flags) == ("00", CALLER_TRACE, "01")
    assert span_id == _hex(server.context.span_id, 16) != CALLER_SPAN


async def test_a_malformed_trace_context_starts_a_new_trace_and_is_not_an_error(
    client: AsyncClient, spans: InMemorySpanExporter
) -> None:
    response = await client.get("/api/v1/products", headers={"traceparent": "00-zz-not-a-trace"})

    assert response.status_code < 500
    server = _server_span(spans.get_finished_spans(), response)
    assert server.parent is None
    assert response.headers["traceparent"].split("-")[1] != "zz"


async def test_health_probes_and_unmatched_paths(
    client: AsyncClient, spans: InMemorySpanExporter
) -> None:
    health = await client.get("/health")
    missing = await client.get("/api/v1/no-such-thing")

    assert health.status_code == 200
    assert "traceparent" not in health.headers  # probes are counted, not traced
    server = _server_span(spans.get_finished_spans(), missing)
    assert missing.status_code == 404
    assert server.name == "GET"  # no route: no template to name it by
    assert server.status.status_code != StatusCode.ERROR  # a 4xx is the caller's problem


async def test_the_edges_span_is_the_only_server_span_and_carries_no_query_or_address(
    client: AsyncClient, spans: InMemorySpanExporter
) -> None:
    await client.get("/health")
    await client.get("/api/v1/products?q=Quaglieri")

    found = spans.get_finished_spans()
    assert all("/health" not in s.name for s in found)
    (server,) = (s for s in found if s.kind == SpanKind.SERVER)
    assert not {"url.query", "client.address", "user_agent.original"} & set(server.attributes or {})
    assert "Quaglieri" not in json.dumps([dict(s.attributes or {}) for s in found])


async def test_the_jobs_a_bind_sets_off_are_in_its_trace(
    committed_runtime: Runtime, spans: InMemorySpanExporter
) -> None:
    runtime = committed_runtime
    async with AsyncClient(
        transport=ASGITransport(app=create_app(runtime=runtime)), base_url="http://t"
    ) as client:
        agent = await user_login(client, runtime, Role.AGENT)
        quote_id = await _quote(client, agent, person())
        bound = await client.post(
            f"/api/v1/quotes/{quote_id}/bind",
            json={"option": "standard"},
            headers={**agent.headers, "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
        )
        assert bound.status_code == 201, bound.text
        rendered_before = JOB_RUNS.labels("documents:render", "succeeded")._value.get()

        await run_worker(runtime, wait=False, install_signal_handlers=False)

    found = spans.get_finished_spans()
    server = _server_span(found, bound)
    assert server.context is not None
    jobs = [
        s
        for s in found
        if s.kind == SpanKind.CONSUMER
        and s.context is not None
        and s.context.trace_id == server.context.trace_id
    ]
    by_task = {str((s.attributes or {})["pd_prime.job.task"]): s for s in jobs}
    # The policy's page is drawn by a job whose span hangs under the bind's (under the span
    # that wrote its event: the business span).
    render = by_task["documents:render"]
    assert render.name == "job documents:render"
    assert render.parent is not None
    (cause,) = (
        s
        for s in _under(found, server)
        if s.context is not None and s.context.span_id == render.parent.span_id
    )
    assert cause.name == "policy.bind"
    assert render.attributes is not None
    assert render.attributes["pd_prime.job.attempt"] == 1
    assert render.attributes["pd_prime.job.queue"] == "documents"
    assert render.attributes["pd_prime.job.outcome"] == "succeeded"
    assert any("documents" in s for s in _sql(_under(found, render)))
    # Each attempt counted once: the worker may also draw pages its sweeps caused (an invoice
    # the billing run issued for the new policy), each in a trace of its own.
    renders = [
        s
        for s in found
        if s.kind == SpanKind.CONSUMER
        and (s.attributes or {}).get("pd_prime.job.task") == "documents:render"
    ]
    assert JOB_RUNS.labels("documents:render", "succeeded")._value.get() == rendered_before + len(
        renders
    )
    # The relay's round is linked to the trace whose events it published.
    relayed = [s for s in found if s.name == "events.relay"]
    assert any(
        link.context.trace_id == server.context.trace_id for s in relayed for link in s.links
    )


async def test_a_webhook_delivery_is_in_the_trace_of_the_change_it_announces(
    committed_runtime: Runtime, spans: InMemorySpanExporter
) -> None:
    runtime = committed_runtime
    async with listening() as receiver, api(runtime) as client:
        admin = await user_login(client, runtime, Role.ADMIN)
        agent = await user_login(client, runtime, Role.AGENT)
        agency = await register_client(client, admin, agent)
        await subscribe(client, receiver, bearer(agency), "/hook?token=s3cret", ["quote.created"])
        spans.clear()
        await quote_for_new_customer(client, agent)
        await work(runtime)

        (delivered,) = receiver.received
    found = spans.get_finished_spans()
    (created,) = (
        s
        for s in found
        if s.name == "POST /api/v1/quotes" and "pd_prime.request_id" in (s.attributes or {})
    )
    assert created.context is not None
    (sent,) = (s for s in found if s.kind == SpanKind.CLIENT and s.name == "POST")
    assert sent.context is not None
    assert sent.context.trace_id == created.context.trace_id  # request -> fan-out -> delivery
    attributes = dict(sent.attributes or {})
    assert "s3cret" not in json.dumps(attributes)  # the URL without its query string
    # The attribute's name follows the semantic conventions the instrumentation is set to.
    assert str(attributes.get("url.full", attributes.get("http.url"))).endswith("/hook")
    # The receiver can join our trace in its own logs.
    assert delivered.headers["traceparent"].split("-")[1] == _hex(created.context.trace_id, 32)
