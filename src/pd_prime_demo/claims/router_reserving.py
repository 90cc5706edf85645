"""Claims routes. Loss reporting and reserving: loss reports, triangles (built or imported) and
reserve analyses. Reading needs reports:read; building, importing and running, reserving:run.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from pydantic import BaseModel

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.idempotency import IdempotencyKey, IdempotentCreate
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.claims.enums import CostType
from pd_prime_demo.claims.reserving_models import LossTriangle, ReserveAnalysis
from pd_prime_demo.claims.schemas_reserving import (
    AnalysisCreate,
    AnalysisPage,
    AnalysisRead,
    EstimateTotalsRead,
    LedgerCheckRead,
    LossLineRead,
    LossReportRead,
    LossTotalsRead,
    OriginEstimateRead,
    TriangleBuild,
    TriangleImport,
    TrianglePage,
    TriangleRead,
)
from pd_prime_demo.claims.service import reports, reserving
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.dates import BusinessDate
from pd_prime_demo.core.money import CENT, money_text
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity.dependencies import require

router = APIRouter(prefix=API_V1, tags=["loss reserving"])

Reader = Annotated[Actor, Depends(require(Permission.REPORTS_READ))]
Runner = Annotated[Actor, Depends(require(Permission.RESERVING_RUN))]
TRIANGLES = f"{API_V1}/reserving/triangles"


@router.get(
    "/reports/losses",
    response_model=LossReportRead,
    responses=problem_responses(401, 403, 422),
    summary="Paid, incurred, case reserves, claim counts and loss ratios by product, state and "
    "accident or calendar period",
)
async def loss_report(
    session: Session,
    _: Reader,
    valuation_on: Annotated[
        BusinessDate | None, Query(description="As the books stood that day (default today).")
    ] = None,
    basis: Annotated[
        Literal["accident", "calendar"],
        Query(description="Group by the loss date, or by the transaction's accounting date."),
    ] = "accident",
    grain: Literal["year", "quarter", "month"] = "year",
    start: Annotated[
        BusinessDate | None, Query(description="The first period (default the valuation's year).")
    ] = None,
    product_code: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    state: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    cost_type: Annotated[
        CostType | None, Query(description="indemnity (loss) or expense (LAE); both if absent.")
    ] = None,
) -> LossReportRead:
    report = handle_result(
        await reports.loss_report(
            session,
            valuation=valuation_on or clock.today(),
            basis=basis,
            grain=grain,
            start=start,
            product_code=product_code,
            state=state,
            cost_type=cost_type,
        )
    )
    ledger = report.ledger
    return LossReportRead(
        valuation_on=report.valuation_on,
        basis=report.basis,
        grain=report.grain,
        cost_type=report.cost_type,
        lines=[LossLineRead.model_validate(line, from_attributes=True) for line in report.lines],
        totals=LossTotalsRead.model_validate(report.totals, from_attributes=True),
        ledger=None
        if ledger is None
        else LedgerCheckRead.model_validate(ledger, from_attributes=True),
    )


# -- triangles --------------------------------------------------------------------------------


def _cell(value: Any, measure: str) -> str | None:
    if value is None:
        return None
    number = Decimal(repr(float(value)))
    return f"{number:.0f}" if measure == "reported_count" else money_text(number)


def triangle_read(row: LossTriangle) -> TriangleRead:
    cells = row.cells
    return TriangleRead(
        id=row.id,
        name=row.name,
        measure=row.measure,
        source=row.source,
        grain=row.origin_grain,
        development_months=row.development_months,
        valuation_on=row.valuation_on,
        scope=row.scope,
        origins=list(cells["origins"]),
        ages=list(cells["ages"]),
        values=[[_cell(v, row.measure) for v in line] for line in cells["values"]],
        created_by=row.created_by,
        created_at=row.created_at,
    )


@dataclass(frozen=True)
class Creation:
    """What every idempotent creation here needs of the request, besides its body and session."""

    request: Request
    response: Response
    runtime: Runtime
    actor: Actor
    key: str | None

    def idempotent(self, body: BaseModel) -> IdempotentCreate:
        return IdempotentCreate.of(self.request, body, self.key, self.actor, self.runtime.cipher)

    def created(self, location: str, *, replayed: bool) -> None:
        self.response.headers["Location"] = location
        if replayed:
            self.response.headers["Idempotent-Replayed"] = "true"


async def _creation(
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    actor: Runner,
    idempotency_key: IdempotencyKey = None,
) -> Creation:
    return Creation(request, response, runtime, actor, idempotency_key)


Creating = Annotated[Creation, Depends(_creation)]


async def _create_triangle(
    session: Session, creation: Creation, body: TriangleBuild | TriangleImport
) -> TriangleRead:
    idem = creation.idempotent(body)
    if (previous := await idem.previous(session)) is not None:
        row = handle_result(await reserving.get_triangle(session, uuid.UUID(previous)))
    else:
        actor = creation.actor
        if isinstance(body, TriangleBuild):
            row = handle_result(await reserving.build_triangle(session, body, actor=actor))
        else:
            row = handle_result(await reserving.import_triangle(session, body, actor=actor))
        idem.remember(session, str(row.id))
    creation.created(f"{TRIANGLES}/{row.id}", replayed=previous is not None)
    return triangle_read(row)


@router.post(
    "/reserving/triangles",
    response_model=TriangleRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Build a paid, incurred or reported-count triangle from the claims' transactions",
)
async def build_triangle(body: TriangleBuild, session: Session, creation: Creating) -> TriangleRead:
    return await _create_triangle(session, creation, body)


@router.post(
    "/reserving/triangles/import",
    response_model=TriangleRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Import a historical triangle (CSV, cumulative or incremental); 422 names each bad "
    "cell by row and column",
)
async def import_triangle(
    body: TriangleImport, session: Session, creation: Creating
) -> TriangleRead:
    return await _create_triangle(session, creation, body)


@router.get(
    "/reserving/triangles",
    response_model=TrianglePage,
    responses=problem_responses(401, 403, 422),
    summary="List the stored triangles, newest first",
)
async def list_triangles(
    session: Session,
    _: Reader,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TrianglePage:
    rows, next_cursor = handle_result(
        await reserving.list_triangles(session, cursor=cursor, limit=limit)
    )
    return TrianglePage(items=[triangle_read(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/reserving/triangles/{triangle_id}",
    response_model=TriangleRead,
    responses=problem_responses(401, 403, 404),
    summary="Read a triangle",
)
async def read_triangle(triangle_id: uuid.UUID, session: Session, _: Reader) -> TriangleRead:
    return triangle_read(handle_result(await reserving.get_triangle(session, triangle_id)))


# -- analyses ---------------------------------------------------------------------------------


def _money(value: Any) -> Decimal | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return Decimal(repr(float(value))).quantize(CENT)


def analysis_read(row: ReserveAnalysis) -> AnalysisRead:
    result = row.result
    origins = [
        OriginEstimateRead(
            origin=str(o["origin"]),
            latest=_money(o["latest"]) or Decimal(0),
            ultimate=_money(o["ultimate"]) or Decimal(0),
            ibnr=_money(o["ibnr"]) or Decimal(0),
            se=_money(o.get("se")),
        )
        for o in result["origins"]
    ]
    totals = result["totals"]
    return AnalysisRead(
        id=row.id,
        triangle_id=row.triangle_id,
        method=row.method,
        parameters=row.parameters,
        result=result,
        origins=origins,
        totals=EstimateTotalsRead(
            latest=_money(totals["latest"]) or Decimal(0),
            ultimate=_money(totals["ultimate"]) or Decimal(0),
            ibnr=_money(totals["ibnr"]) or Decimal(0),
            se=_money(totals.get("se")),
        ),
        created_by=row.created_by,
        created_at=row.created_at,
    )


@router.post(
    "/reserving/triangles/{triangle_id}/analyses",
    response_model=AnalysisRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    summary="Run chain-ladder, Mack, Bornhuetter-Ferguson or Cape Cod and store the result",
)
async def run_analysis(
    triangle_id: uuid.UUID,
    body: Annotated[AnalysisCreate, Body()],
    session: Session,
    creation: Creating,
) -> AnalysisRead:
    idem = creation.idempotent(body)
    if (previous := await idem.previous(session)) is not None:
        row = handle_result(await reserving.get_analysis(session, triangle_id, uuid.UUID(previous)))
    else:
        row = handle_result(
            await reserving.run_analysis(session, triangle_id, body, actor=creation.actor)
        )
        idem.remember(session, str(row.id))
    location = f"{TRIANGLES}/{triangle_id}/analyses/{row.id}"
    creation.created(location, replayed=previous is not None)
    return analysis_read(row)


@router.get(
    "/reserving/triangles/{triangle_id}/analyses",
    response_model=AnalysisPage,
    responses=problem_responses(401, 403, 404, 422),
    summary="List a triangle's stored analyses, newest first",
)
async def list_analyses(
    triangle_id: uuid.UUID,
    session: Session,
    _: Reader,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> AnalysisPage:
    rows, next_cursor = handle_result(
        await reserving.list_analyses(session, triangle_id, cursor=cursor, limit=limit)
    )
    return AnalysisPage(items=[analysis_read(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/reserving/triangles/{triangle_id}/analyses/{analysis_id}",
    response_model=AnalysisRead,
    responses=problem_responses(401, 403, 404),
    summary="Read a stored analysis exactly as it was first produced",
)
async def read_analysis(
    triangle_id: uuid.UUID, analysis_id: uuid.UUID, session: Session, _: Reader
) -> AnalysisRead:
    return analysis_read(
        handle_result(await reserving.get_analysis(session, triangle_id, analysis_id))
    )
