"""Liveness and readiness (``/health``, ``/health/ready``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from pd_prime_demo.api.dependencies import RuntimeDep
from pd_prime_demo.operations.readiness import Readiness, ReadinessProbe

router = APIRouter(tags=["operations"])

# A dependency that is down rarely comes back within a second; pollers that honour this
# header come back when a fresh answer is worth asking for.
RETRY_AFTER_SECONDS = 5

_NOT_READY_EXAMPLE = {
    "status": "not_ready",
    "checked_at": "2026-12-02T01:00:00Z",
    "checks": {
        "database": {"ok": False, "detail": "unreachable: timed out", "gating": True},
        "migrations": {
            "ok": False,
            "detail": "unknown: the database did not answer (timed out)",
            "gating": True,
        },
        "queue": {
            "ok": False,
            "detail": "unknown: the database did not answer (timed out)",
            "gating": False,
        },
    },
}


class Liveness(BaseModel):
    model_config = ConfigDict(frozen=True)
    status: Literal["ok"] = "ok"


@router.get("/health", response_model=Liveness, summary="Liveness: the process is serving")
async def liveness() -> Liveness:
    return Liveness()


def _probe(request: Request, runtime: RuntimeDep) -> ReadinessProbe:
    # One probe per application (so per process), made on the first poll.
    probe: ReadinessProbe | None = getattr(request.app.state, "readiness_probe", None)
    if probe is None or probe.runtime is not runtime:
        probe = ReadinessProbe(runtime)
        request.app.state.readiness_probe = probe
    return probe


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses={
        503: {
            "model": Readiness,
            "description": "A gating dependency is not ready: each failing check says why; "
            "the Retry-After header says when to ask again. (A failing check that does not gate, "
            "such as a lagging job queue, answers 200 with status degraded.)",
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before polling again",
                    "schema": {"type": "integer"},
                }
            },
            "content": {"application/json": {"example": _NOT_READY_EXAMPLE}},
        }
    },
    summary="Readiness: database, migrations at head, job queue lag, Redis when configured, "
    "disk when the database is embedded",
    description="Cheap enough to poll every second: the answer is shared by every poller of "
    "this process for `ready_cache_seconds`, and each dependency is checked under a short "
    "timeout.",
)
async def readiness(request: Request, runtime: RuntimeDep) -> JSONResponse:
    answer = await _probe(request, runtime).answer()
    body = answer.model_dump(mode="json")
    if answer.ready:
        return JSONResponse(body)
    return JSONResponse(body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
