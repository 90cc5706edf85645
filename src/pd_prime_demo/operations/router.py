"""Liveness and readiness (``/health``, ``/health/ready``)."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text

from pd_prime_demo.api.dependencies import RuntimeDep
from pd_prime_demo.core.database import current_revision, migration_head

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
