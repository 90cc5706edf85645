"""OpenTelemetry tracing: the SDK from the standard ``OTEL_*`` variables, and business spans.

:func:`configure_tracing` installs the SDK once per process (the app's edge, the worker's
first job and its relay call it): service name and resource from ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES``, the sampler from ``OTEL_TRACES_SAMPLER`` (parent based, always
on by default), and an OTLP/HTTP exporter only when an OTLP endpoint is configured. Without
one, spans still get their ids, so a trace id reaches the log lines and the ``traceparent``
response header at little cost; ``OTEL_SDK_DISABLED=true`` turns tracing off altogether.

Spans are exported by a batch processor on a thread of its own: an exporter that is down
drops spans (its queue is bounded) and never blocks or fails a request or a job.

Business code opens spans with :func:`business_span`; attributes are ids of products, states,
versions and counts, never personal data (a name, an address, a date of birth, a VIN). SQL
spans carry the statement with its placeholders, never the bound values (see
:func:`instrument_engine`).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.metrics import NoOpUpDownCounter
from opentelemetry.trace import Span, SpanContext, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue
from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine

TRACER_NAME = "pd_prime"
_W3C = TraceContextTextMapPropagator()
_configure_lock = threading.Lock()
_configured = False
# Engines whose statements are traced already: a test suite builds a Database per test on
# one engine, and a second tracer on it would record every statement twice.
_traced_engines: weakref.WeakSet[Engine] = weakref.WeakSet()


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def tracing_disabled() -> bool:
    """``OTEL_SDK_DISABLED=true``: no spans, no trace ids, no instrumentation at all."""
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def configure_tracing(service_name_default: str = "pd-prime") -> None:
    """Install the tracer provider of this process from the ``OTEL_*`` environment; a second
    call does nothing. A provider installed before (a test's) is kept as it is."""
    global _configured
    with _configure_lock:
        if _configured:
            return
        _configured = True
        if tracing_disabled():
            return
        from opentelemetry.sdk.trace import TracerProvider

        if not isinstance(trace.get_tracer_provider(), TracerProvider):
            trace.set_tracer_provider(_provider(service_name_default))
        _instrument_clients()


def _provider(service_name_default: str) -> Any:
    from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased

    from pd_prime_demo import __version__

    # Resource.create() reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME; what it is
    # given would override them, so our defaults only fill what the environment left out.
    resource = Resource({SERVICE_VERSION: __version__}).merge(Resource.create())
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service_name_default}))
    exporting = bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    # The sampler comes from OTEL_TRACES_SAMPLER(_ARG). With nowhere to send spans and no
    # sampler asked for, no trace this process starts is recorded: every span still has its
    # ids (the log lines' trace id, the traceparent answered and passed on to jobs), but the
    # SQL, Redis and HTTP spans cost next to nothing instead of being built and thrown away
    # (bench tracing: about +10% CPU per request otherwise). A caller's sampled trace stays
    # sampled (parent-based), so a worker that exports still records the jobs it causes.
    # The provider flushes at exit.
    sampler = (
        None if exporting or os.environ.get("OTEL_TRACES_SAMPLER") else ParentBased(ALWAYS_OFF)
    )
    provider = TracerProvider(resource=resource, sampler=sampler, shutdown_on_exit=True)
    if exporting:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        # Endpoint, headers, timeout and compression come from OTEL_EXPORTER_OTLP_*, the
        # queue and batch sizes from OTEL_BSP_*: a full queue drops spans, it never blocks.
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def _instrument_clients() -> None:
    """Spans for Redis commands and outgoing HTTP (the webhook deliveries' httpx)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    # The Redis spans carry the command with its arguments replaced by "?": keys name
    # accounts and addresses (rate limits), values are sessions and cached answers.
    RedisInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument(async_request_hook=_drop_query)


async def _drop_query(span: Span, request: Any) -> None:
    """A receiver's URL may carry a token in its query string: the span keeps the rest (under
    the old and the new semantic conventions' names, whichever the instrumentation wrote)."""
    if not span.is_recording() or not isinstance(request.url, httpx.URL):
        return
    bare = str(request.url.copy_with(query=None, fragment=None, userinfo=b""))
    written = getattr(span, "attributes", None) or {}
    for key in ("url.full", "http.url"):
        if key in written:
            span.set_attribute(key, bare)


def _prefixed(attributes: dict[str, AttributeValue | None]) -> dict[str, AttributeValue]:
    return {f"pd_prime.{k}": v for k, v in attributes.items() if v is not None}


@contextmanager
def business_span(name: str, **attributes: AttributeValue | None) -> Iterator[Span]:
    """A span named ``name`` (``quote.rate``, ``policy.bind``, ``payment.record``) around a use
    case, with ``attributes`` (None values left out) under the ``pd_prime.`` prefix."""
    with tracer().start_as_current_span(name, attributes=_prefixed(attributes)) as span:
        yield span


def annotate(span: Span, **attributes: AttributeValue | None) -> None:
    """Add ``attributes`` to a business span as :func:`business_span` names them (what a use
    case learns on the way: the product of the quote it read, its outcome)."""
    span.set_attributes(_prefixed(attributes))


def traceparent_of(span_context: SpanContext) -> str | None:
    """The W3C ``traceparent`` of ``span_context`` (None for an invalid one)."""
    if not span_context.is_valid:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, context=trace.set_span_in_context(trace.NonRecordingSpan(span_context)))
    return carrier.get("traceparent")


def current_traceparent() -> str | None:
    """The ``traceparent`` of the current span, to carry into the jobs it causes."""
    return traceparent_of(trace.get_current_span().get_span_context())


def context_from_traceparent(traceparent: str | None) -> otel_context.Context | None:
    """The parent context a ``traceparent`` names (None, or a malformed one: a new root)."""
    if not traceparent:
        return None
    extracted = _W3C.extract({"traceparent": traceparent})
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def instrument_engine(engine: AsyncEngine) -> None:
    """Record a span for every SQL statement ``engine`` runs, under the current span.

    The stock instrumentor's engine tracer, with sqlcommenter off: ``db.statement`` is the SQL
    text with its placeholders, the bound values (which may be PII) are never read. Its
    failure status would carry the driver's message, which can quote a row's values
    ("Key (email)=(...) already exists"): our own handler runs first and keeps the error's
    type only.
    """
    if tracing_disabled():
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    sync_engine = engine.sync_engine
    if sync_engine in _traced_engines:
        return
    _traced_engines.add(sync_engine)
    event.listen(sync_engine, "handle_error", _statement_failed, insert=True)
    EngineTracer(  # type: ignore[no-untyped-call]
        trace.get_tracer("opentelemetry.instrumentation.sqlalchemy"),
        sync_engine,
        NoOpUpDownCounter("db.client.connections.usage"),
        enable_commenter=False,
    )


def _statement_failed(context: ExceptionContext) -> None:
    execution = context.execution_context
    span: Span | None = getattr(execution, "_otel_span", None)
    if execution is None or span is None:
        return
    error = type(context.original_exception).__name__
    span.set_attribute("error.type", error)
    span.set_status(Status(StatusCode.ERROR, error))
    span.end()
    # The stock handler finds no span and leaves it alone.
    execution._otel_span = None  # type: ignore[attr-defined]
