"""Request context: correlation id, one access-log line, and Prometheus metrics.

A pure ASGI middleware (not BaseHTTPMiddleware) so that the context variables it sets are
visible to the handlers and to the 500 handler: it wraps the whole stack, Starlette's
ServerErrorMiddleware included (api/edge.py), so a 500 or a refused CORS preflight is logged,
counted and carries the request id like any other answer.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pd_prime_demo.core.logging import request_id_var
from pd_prime_demo.core.telemetry import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("pd_prime.access")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-request-id" for k, _ in headers):
                    headers.append((b"x-request-id", request_id.encode("latin-1")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
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
