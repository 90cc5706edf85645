"""The outermost layers of the app: the security headers, the request context (request id,
access log, metrics) and CORS (docs/security.md).

They wrap Starlette's ServerErrorMiddleware (see ``main.PDPrimeApp``), so that the 500 its
handler answers carries the security headers, the request id and, for an allowed origin, the
CORS headers a browser needs to show the caller the problem rather than an opaque network
error; a refused CORS preflight is logged and counted like any other request.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pd_prime_demo.api.middleware import RequestContextMiddleware
from pd_prime_demo.api.response_patterns import problem_response
from pd_prime_demo.api.security_headers import SecurityHeadersMiddleware
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.tracing import configure_tracing

CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "Idempotency-Key",
    "X-Request-ID",
    "traceparent",
    "tracestate",
)
CORS_EXPOSED_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
    "X-Request-ID",
    "X-PD-Prime-Demo",
    "traceparent",
)


class StrictCORSMiddleware(CORSMiddleware):
    """Starlette's CORS with the allow-list of the settings; a refused preflight is an RFC
    9457 problem like every other error, and neither it nor a request from an origin not on
    the list carries any CORS header."""

    async def simple_response(
        self, scope: Scope, receive: Receive, send: Send, request_headers: Headers
    ) -> None:
        origin = request_headers.get("origin")
        if origin is not None and not self.is_allowed_origin(origin):
            await self.app(scope, receive, send)
            return
        await super().simple_response(scope, receive, send, request_headers)

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        return problem_response(
            status=400,
            code="cors.not_allowed",
            detail="This origin, method or header is not allowed to call the API from a browser.",
            instance=None,
            headers={"Vary": "Origin"},
        )


def wrap_edge(app: ASGIApp, settings: Settings) -> ASGIApp:
    """``app`` (the whole middleware stack) inside CORS, the request context and the
    security headers, in that order from the inside out; tracing is set up for the process
    here, where every app is built (it is set up once)."""
    configure_tracing()
    cors = StrictCORSMiddleware(
        app,
        allow_origins=settings.cors_allow_origins,
        allow_methods=CORS_METHODS,
        allow_headers=CORS_REQUEST_HEADERS,
        allow_credentials=settings.cors_allow_credentials,
        expose_headers=CORS_EXPOSED_HEADERS,
        max_age=settings.cors_max_age_seconds,
    )
    return SecurityHeadersMiddleware(RequestContextMiddleware(cors), settings=settings)
