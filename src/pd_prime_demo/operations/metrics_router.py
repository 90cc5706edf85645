"""Prometheus metrics at ``/metrics``.

``/metrics`` is not public (docs/security.md): it names every route, its traffic and its
failures. It answers only a scraper presenting ``Authorization: Bearer <metrics_token>``
(401 otherwise); with no token configured it does not exist (404), so an app on the public
internet reveals nothing until an operator chooses a token. (``metrics_listen`` serves the
same answer, tokenless, on an internal address: ``core.metrics_server``.)

The answer is the process's metrics, or under ``serve --workers N`` every worker's, with the
figures read from the database at this scrape (``operations.metrics``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from pd_prime_demo.api.dependencies import RuntimeDep
from pd_prime_demo.api.response_patterns import fail, problem_responses
from pd_prime_demo.core.metrics_server import render
from pd_prime_demo.core.result_types import DomainError, ErrorKind, unauthenticated
from pd_prime_demo.core.security_events import SecurityEventType, route_template, security_event
from pd_prime_demo.operations.evidence import ScrapeRecorder
from pd_prime_demo.operations.metrics import scrape_recorded

router = APIRouter(tags=["operations"])
# CC7.2's evidence that monitoring operates: when a scraper last read /metrics (one write a
# minute at most per process).
scrapes = ScrapeRecorder()


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"},
        **problem_responses(401, 404),
    },
    summary="Prometheus metrics (bearer metrics_token; 404 when none is configured)",
)
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    configured = runtime.settings.metrics_token
    if configured is None:
        fail(DomainError(ErrorKind.NOT_FOUND, "http.not_found", "Not Found"))
    given = _bearer(request)
    # Digests of equal length, compared in constant time: neither the token's content nor
    # its length shows in the timing.
    if given is None or not hmac.compare_digest(
        _digest(given), _digest(configured.get_secret_value())
    ):
        # A scraper misconfigured, or someone trying the token: either way, an operator's to see.
        security_event(
            SecurityEventType.TOKEN_INVALID,
            reason="metrics_token",
            method=request.method,
            route=route_template(request.scope),
        )
        fail(unauthenticated("metrics.unauthenticated", "/metrics needs the metrics bearer token"))
    figures = await scrape_recorded(runtime.db, runtime.settings, scrapes)
    # Merging the multiprocess files reads the disk: off the event loop.
    body = await asyncio.to_thread(render, lambda: figures)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
