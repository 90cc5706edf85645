"""SOC 2 controls: the catalogue with each control's latest result, the runs and their
evidence, running a control now, and the auditor's export (compliance officers, auditors)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import IO, Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.compliance import service
from pd_prime_demo.compliance.control import Control
from pd_prime_demo.compliance.models import ControlRun
from pd_prime_demo.compliance.schemas import ControlRead, ControlRunPage, ControlRunRead
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.identity.dependencies import require

router = APIRouter(prefix=f"{API_V1}/compliance", tags=["compliance"])

Reader = Annotated[Actor, Depends(require(Permission.COMPLIANCE_READ))]
Manager = Annotated[Actor, Depends(require(Permission.COMPLIANCE_MANAGE))]
# The catalogue as a dependency, so an application (or a test) can run its own controls.
Catalogue = Annotated[tuple[Control, ...], Depends(service.catalogue)]

# Ids and names are plain ASCII tokens (a NUL or a stray byte never reaches PostgreSQL).
_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
ControlId = Annotated[str, Path(max_length=80, pattern=_ID_PATTERN)]
EvidenceName = Annotated[str, Path(max_length=120, pattern=_ID_PATTERN)]
RunId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_CHUNK = 64 * 1024


def _run_read(run: ControlRun) -> ControlRunRead:
    return ControlRunRead.model_validate(run)


@router.get(
    "/controls",
    response_model=list[ControlRead],
    responses=problem_responses(401, 403),
    summary="The controls, each with its latest result",
)
async def list_controls(session: Session, _: Reader, controls: Catalogue) -> list[ControlRead]:
    return [
        ControlRead(
            id=s.control.id,
            criteria=list(s.control.criteria),
            title=s.control.title,
            description=s.control.description,
            frequency=s.control.frequency,
            latest_run=_run_read(s.latest) if s.latest is not None else None,
        )
        for s in await service.control_statuses(session, controls)
    ]


@router.post(
    "/controls/{control_id}/runs",
    status_code=status.HTTP_201_CREATED,
    response_model=ControlRunRead,
    responses=problem_responses(401, 403, 404, 422),
    summary="Run a control now (its result joins the run chain like a scheduled run)",
)
async def run_control_now(
    control_id: ControlId,
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    actor: Manager,
    controls: Catalogue,
) -> ControlRunRead:
    run = handle_result(
        await service.run_now(
            session,
            control_id,
            settings=runtime.settings,
            now=clock.now(),
            routes=tuple(request.app.routes),
            actor=actor,
            controls=controls,
        )
    )
    # Set before the request's commit (the unit of work commits after the route returns); a
    # commit that failed answers 5xx, and the schedule re-reads every verdict from the
    # database on its next tick.
    service.publish([run])
    return _run_read(run)


@router.get(
    "/runs",
    response_model=ControlRunPage,
    responses=problem_responses(401, 403, 422),
    summary="Runs of the controls, newest first",
)
async def list_control_runs(
    session: Session,
    _: Reader,
    control_id: Annotated[str | None, Query(max_length=80, pattern=_ID_PATTERN)] = None,
    # Aware only: a time without its offset is ambiguous (and runs are compared in UTC).
    started_from: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    started_before: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    passed: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ControlRunPage:
    rows, next_cursor = handle_result(
        await service.list_runs(
            session,
            control_id=control_id,
            started_from=started_from,
            started_before=started_before,
            passed=passed,
            cursor=cursor,
            limit=limit,
        )
    )
    return ControlRunPage(items=[_run_read(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/runs/{run_id}",
    response_model=ControlRunRead,
    responses=problem_responses(401, 403, 404, 422),
    summary="One run with its evidence manifest",
)
async def get_control_run(run_id: RunId, session: Session, _: Reader) -> ControlRunRead:
    return _run_read(handle_result(await service.get_run(session, run_id)))


@router.get(
    "/runs/{run_id}/evidence/{name}",
    response_class=Response,
    responses={
        200: {
            "description": "The artefact as stored; its SHA-256 is in the run's manifest.",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
        **problem_responses(401, 403, 404, 422),
    },
    summary="Download one artefact of a run's evidence",
)
async def download_evidence(
    run_id: RunId,
    name: EvidenceName,
    session: Session,
    _: Reader,
) -> Response:
    item = handle_result(await service.get_evidence(session, run_id, name))
    return Response(
        content=item.content,
        media_type=item.media_type,
        headers={
            # Evidence names are plain file names (compliance.rules.evidence_name_ok).
            "Content-Disposition": f'attachment; filename="{item.name}"',
            "Digest": f"sha-256={item.sha256}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := file.read(_CHUNK):
            yield chunk
    finally:
        file.close()


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "A zip: manifest.json (every file's SHA-256 and size, the period, "
            "the sampling seed and method, the chain head), runs.jsonl, runs.csv, samples.json, "
            "verification.json and evidence/<run id>/<name>.",
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problem_responses(401, 403, 422),
    },
    summary="The auditor's export of a period: every run, the samples, the evidence",
)
async def export_controls(
    session: Session,
    runtime: RuntimeDep,
    actor: Reader,
    start: Annotated[date, Query(alias="from", description="first UTC day of the period")],
    end: Annotated[date, Query(alias="to", description="last UTC day of the period")],
    seed: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[A-Za-z0-9_-]+$",
            description=(
                "the sampling seed: the auditor supplies their own (the manifest records the "
                "caller as its source); drawn by the server when absent"
            ),
        ),
    ] = None,
) -> StreamingResponse:
    file = handle_result(
        await service.export_period(
            session, runtime.settings, start=start, end=end, seed=seed, now=clock.now(), actor=actor
        )
    )
    # Dates only: the name is plain ASCII (RFC 6266).
    filename = f"pd-prime-soc2-{start.isoformat()}-{end.isoformat()}.zip"
    return StreamingResponse(
        _chunks(file),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
