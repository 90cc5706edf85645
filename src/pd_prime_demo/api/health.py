"""Liveness, readiness and Prometheus metrics.

``/metrics`` is not public (docs/security.md): it names every route, its traffic and its
failures. It answers only a scraper presenting ``Authorization: Bearer <metrics_token>``
(401 otherwise); with no token configured it does not exist (404), so an app on the public
internet reveals nothing until an operator chooses a token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text

from pd_prime_demo.api.dependencies import RuntimeDep
from pd_prime_demo.api.response_patterns import fail, problem_responses
from pd_prime_demo.core.database import current_revision, migration_head
from pd_prime_demo.core.result_types import DomainError, ErrorKind, unauthenticated
from pd_prime_demo.core.telemetry import REGISTRY

router = APIRouter(tags=["operations"])


class Liveness(BaseModel):
    model_config = ConfigDict(frozen=True)
    status: Literal["ok"] = "ok"


class Check(BaseModel):
    model_config = ConfigDict(frozen=True)
    ok: bool
    detail: str


class Readiness(BaseModel):
    model_config = ConfigDict(frozen=True)
    status: Literal["ready", "not_ready"]
    checks: dict[str, Check]


@router.get("/health", response_model=Liveness, summary="Liveness: the process is serving")
async def liveness() -> Liveness:
    return Liveness()


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency is not ready"}},
    summary="Readiness: database reachable, migrations at head, Redis when configured",
)
async def readiness(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, Check] = {}
    head = migration_head()
    try:
        async with asyncio.timeout(3), runtime.db.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
            checks["database"] = Check(ok=True, detail="reachable")
            current = await current_revision(session)
            checks["migrations"] = Check(ok=current == head, detail=f"at {current}, head is {head}")
    except Exception as exc:  # any failure to reach the database means not ready
        checks["database"] = Check(ok=False, detail=f"unreachable: {type(exc).__name__}")
        checks.setdefault("migrations", Check(ok=False, detail="unknown: database unreachable"))
    if runtime.settings.redis_url:
        try:
            async with asyncio.timeout(3):
                ok = await runtime.cache.ping()
        except TimeoutError:
            ok = False
        checks["redis"] = Check(ok=ok, detail="reachable" if ok else "unreachable")
    ready = all(c.ok for c in checks.values())
    body = Readiness(status="ready" if ready else "not_ready", checks=checks)
    if ready:
        return JSONResponse(body.model_dump())
    # A load balancer or orchestrator polls again after this many seconds.
    return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "5"})


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
        fail(unauthenticated("metrics.unauthenticated", "/metrics needs the metrics bearer token"))
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
