"""create_app(): wiring only — routers, middleware, error handlers, lifespan, and the ports
one domain offers another against the direction of their imports."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp

from pd_prime_demo import __version__
from pd_prime_demo.admin.router import router as admin_router
from pd_prime_demo.api import docs
from pd_prime_demo.api.body_limit import BodySizeLimitMiddleware
from pd_prime_demo.api.edge import wrap_edge
from pd_prime_demo.api.errors import install_error_handlers
from pd_prime_demo.api.rate_limit import RateLimitMiddleware
from pd_prime_demo.api.response_patterns import problem_openapi_schemas
from pd_prime_demo.audit.router import router as audit_router
from pd_prime_demo.billing.router import BillingPorts
from pd_prime_demo.billing.router import router as billing_router
from pd_prime_demo.claims.router import router as claims_router
from pd_prime_demo.compliance.router import router as compliance_router
from pd_prime_demo.core.config import Settings, get_settings
from pd_prime_demo.core.logging import configure_logging
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers.router import router as customers_router
from pd_prime_demo.events.router import router as events_router
from pd_prime_demo.identity.account_router import router as account_router
from pd_prime_demo.identity.api_keys_router import router as api_keys_router
from pd_prime_demo.identity.oauth_router import router as oauth_router
from pd_prime_demo.identity.router import router as identity_router
from pd_prime_demo.operations.metrics_router import router as metrics_router
from pd_prime_demo.operations.router import router as health_router
from pd_prime_demo.policies import service as policies
from pd_prime_demo.policies.router import router as policies_router
from pd_prime_demo.privacy.router import router as privacy_router
from pd_prime_demo.products.router import router as products_router
from pd_prime_demo.quotes.router import router as quotes_router
from pd_prime_demo.realtime.hub import Hub
from pd_prime_demo.realtime.router import router as realtime_router
from pd_prime_demo.reports.router import router as reports_router
from pd_prime_demo.web.router import install as install_web
from pd_prime_demo.webhooks.router import router as webhooks_router
from pd_prime_demo.worker import run_worker

log = structlog.get_logger(__name__)

DESCRIPTION = """
PD Prime is an open, API-first property & casualty insurance core.

**Try it:** press *Authorize* and log in with one of the demo users printed by `make demo`
(for example `admin@demo.pdprime.example`). Every error is RFC 9457 `application/problem+json`.
"""


# Every domain router of API version 1, in the order the OpenAPI document lists them.
V1_ROUTERS: tuple[APIRouter, ...] = (
    identity_router,
    account_router,
    api_keys_router,
    oauth_router,
    customers_router,
    products_router,
    quotes_router,
    policies_router,
    billing_router,
    claims_router,
    reports_router,
    events_router,
    realtime_router,
    webhooks_router,
    audit_router,
    compliance_router,
    privacy_router,
    admin_router,
)


class PDPrimeApp(FastAPI):
    """FastAPI with the edge (security headers, request context, CORS) around the whole
    middleware stack, Starlette's ServerErrorMiddleware included, so that a 500 gets them."""

    edge_settings: Settings

    def build_middleware_stack(self) -> ASGIApp:
        return wrap_edge(super().build_middleware_stack(), self.edge_settings)


def create_app(settings: Settings | None = None, *, runtime: Runtime | None = None) -> FastAPI:
    """Build the ASGI app. Tests pass a ``runtime`` bound to their own transaction."""
    settings = settings or (runtime.settings if runtime else get_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        app.state.runtime = runtime or Runtime.create(settings)
        app.state.runtime.routes = tuple(app.routes)
        # make demo: a queue worker (and the relay) in the server's own process, stopped with it.
        jobs = (
            asyncio.create_task(
                run_worker(app.state.runtime, install_signal_handlers=False), name="worker"
            )
            if settings.embedded_worker
            else None
        )
        if jobs is not None:
            jobs.add_done_callback(_report_worker_end)
        try:
            yield
        finally:
            if jobs is not None:
                jobs.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await jobs
            await app.state.realtime_hub.close()
            if owned:
                await app.state.runtime.close()

    app = PDPrimeApp(
        # FastAPI's own OpenTelemetry would open a second server span outside the edge, with
        # the query string (search terms) and the client's address: the edge's span
        # (api.middleware) is the one server span, and the metrics are the catalogue's.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        title="PD Prime",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # The docs pages are the platform's own (api/docs.py): offline, under a CSP.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.edge_settings = settings
    if runtime is not None:
        app.state.runtime = runtime
    # Billing's run cancels unpaid policies through the policies domain, which billing may not
    # import (policies call billing, never the reverse): the function is handed to it here.
    app.state.billing_ports = BillingPorts(cancel_policy=policies.cancel_for_non_payment)
    # Live updates: one database listener per process, started by the first WebSocket.
    app.state.realtime_hub = Hub()
    install_error_handlers(app)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        # A claim's photo or document may be as large as the claims settings allow (plus the
        # multipart envelope).
        by_path={
            **settings.max_body_bytes_by_path,
            "/api/v1/claims/*/attachments": settings.claim_attachment_max_bytes + 64 * 1024,
        },
    )
    # Outside the body limit: a client over its rate limit is refused before its body is read.
    app.add_middleware(RateLimitMiddleware)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(docs.router)
    app.mount(docs.ASSETS, docs.static_files(), name="docs-assets")
    for router in V1_ROUTERS:
        app.include_router(router)
    install_web(app)  # the console under /app (web/): pages, assets, page error handlers

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                problem_openapi_schemas()
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _report_worker_end(task: asyncio.Task[None]) -> None:
    """The embedded worker ends only with the server: say so loudly if it died on its own,
    since pages, webhooks and the sweeps stop with it."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("worker.embedded_died", error=repr(error), exc_info=error)


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory pd_prime_demo.main:app_factory``."""
    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return create_app(settings)
