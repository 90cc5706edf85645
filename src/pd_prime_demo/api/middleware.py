"""Request context: correlation id, the request's server span, one access-log line, and
Prometheus metrics.

A pure ASGI middleware (not BaseHTTPMiddleware) so that the context variables it sets are
visible to the handlers and to the 500 handler: it wraps the whole stack, Starlette's
ServerErrorMiddleware included (api/edge.py), so a 500 or a refused CORS preflight is logged,
counted and carries the request id like any other answer.

The server span continues the caller's W3C trace context (``traceparent``/``tracestate``) and
is named after the route template once routing has found it; its ``traceparent`` goes back in
the response, so a caller can find its trace. The health probes and the metrics scrape, which
pollers call every few seconds, are counted but not traced.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pd_prime_demo.core.logging import request_id_var
from pd_prime_demo.core.telemetry import HTTP_IN_FLIGHT, HTTP_LATENCY, HTTP_REQUESTS
from pd_prime_demo.core.tracing import traceparent_of, tracer, tracing_disabled

log = structlog.get_logger("pd_prime.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNTRACED_PATHS = frozenset({"/health", "/health/ready", "/metrics"})


def _start_span(scope: Scope, request_id: str) -> Span | None:
    if scope["path"] in UNTRACED_PATHS:
        return None
    carrier = {
        k.decode("latin-1"): v.decode("latin-1")
        for k, v in scope["headers"]
        if k in (b"traceparent", b"tracestate")
    }
    method = scope["method"]
    # Named by the method alone until routing has found the template (semantic conventions).
    # The parent is the caller's context and nothing else: this edge is where the process
    # takes the request in, whatever span an outer layer may have opened.
    span = tracer().start_span(
        method,
        context=extract(carrier),
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": method,
            "url.scheme": scope.get("scheme", "http"),
            "pd_prime.request_id": request_id,
        },
    )
    return span if span.get_span_context().is_valid else None


def _end_span(
    span: Span, method: str, template: str | None, status: int, error: str | None
) -> None:
    if template is not None:
        span.update_name(f"{method} {template}")
        span.set_attribute("http.route", template)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        # The type only: an exception's message may quote the values that caused it.
        span.set_attribute("error.type", error or str(status))
        span.set_status(Status(StatusCode.ERROR))
    span.end()


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.traced = not tracing_disabled()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None
        )
        request_id = (
            incoming if incoming and _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        )
        # Set, not reset: the 500 handler must still see it while the error propagates, and
        # the next request on this task overwrites it first thing.
        request_id_var.set(request_id)
        structlog.contextvars.clear_contextvars()
        status = 500
        error: str | None = None
        started = time.perf_counter()
        span = _start_span(scope, request_id) if self.traced else None
        token = None if span is None else otel_context.attach(trace.set_span_in_context(span))
        traceparent = None if span is None else traceparent_of(span.get_span_context())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode("latin-1")))
                if traceparent is not None:
                    headers.append((b"traceparent", traceparent.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            error = type(exc).__name__
            raise
        finally:
            HTTP_IN_FLIGHT.dec()
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            matched: str | None = getattr(route, "path", None)
            template = matched or "<unmatched>"
            method = scope["method"]
            HTTP_REQUESTS.labels(method, template, str(status)).inc()
            HTTP_LATENCY.labels(method, template, str(status)).observe(elapsed)
            # The raw path is logged without its query string: search terms may be PII.
            log.info(
                "http.request",
                method=method,
                route=template,
                path=scope["path"],
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            if span is not None:
                _end_span(span, method, matched, status, error)
            if token is not None:
                otel_context.detach(token)
