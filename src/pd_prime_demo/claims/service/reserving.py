"""Loss reserving: triangles built from the claims' own transactions or imported from CSV, and
reserve analyses run on them and stored with their inputs, method and factors.

A built triangle is one aggregate query (``repository.reserving.triangle_increments``) summed
along each origin's row: accident years (or quarters) by development age in months, from the
first accident period to the valuation date's, whose ages are whole periods (so the valuation
date is the last day of a year or quarter). Cumulative sums are taken in Decimal, so a cell is
exactly the cents the transactions add up to.

An analysis stores what it was given (``parameters``, earned premium included, and where that
came from) and the method's whole output (``result``: factors, CDFs, sigmas, per origin and in
total), so it reads back exactly as first shown.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims.bornhuetter import bornhuetter_ferguson, cape_cod
from pd_prime_demo.claims.chainladder import chain_ladder
from pd_prime_demo.claims.enums import TriangleSource
from pd_prime_demo.claims.mack import mack
from pd_prime_demo.claims.repository import reserving as repo
from pd_prime_demo.claims.repository.reserving import GRAIN_MONTHS, Grain, Scope
from pd_prime_demo.claims.reserving_models import LossTriangle, ReserveAnalysis
from pd_prime_demo.claims.schemas_reserving import (
    AnalysisCreate,
    BornhuetterFergusonRun,
    CapeCodRun,
    ChainLadderRun,
    MackRun,
    TriangleBuild,
    TriangleImport,
)
from pd_prime_demo.claims.service.reports import earned_premium
from pd_prime_demo.claims.triangle_csv import parse_csv
from pd_prime_demo.claims.triangles import MAX_ORIGINS, ReservingError, Triangle
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    ErrorKind,
    FieldIssue,
    Ok,
    Result,
    invalid,
    not_found,
)

TRIANGLE_NOT_FOUND = not_found("triangle")
ANALYSIS_NOT_FOUND = not_found("analysis")


def _values(rows: list[list[Decimal | None]]) -> Any:
    return np.array([[np.nan if v is None else float(v) for v in row] for row in rows])


def cumulate(
    increments: list[tuple[date, int, Decimal]], starts: list[date]
) -> list[list[Decimal | None]]:
    """The cumulative cells by origin (``starts``) and age: known up to the valuation's
    diagonal (origin i of n knows n - i ages), None after it."""
    n = len(starts)
    index = {start: i for i, start in enumerate(starts)}
    cells = [[Decimal(0)] * n for _ in range(n)]
    for origin, development, value in increments:
        i = index.get(origin)
        if i is not None and development < n - i:
            cells[i][development] += value
    out: list[list[Decimal | None]] = []
    for i, row in enumerate(cells):
        total, known = Decimal(0), []
        for value in row[: n - i]:
            total += value
            known.append(total)
        out.append([*known, *([None] * i)])
    return out


async def build_triangle(
    session: AsyncSession, body: TriangleBuild, *, actor: Actor
) -> Result[LossTriangle, DomainError]:
    grain: Grain = body.grain
    valuation = body.valuation_on
    if valuation != repo.period_end(repo.period_start(valuation, grain), grain):
        return Err(
            invalid(
                "reserving.valuation_not_period_end",
                f"a {grain}ly triangle's ages are whole {grain}s: value it on a {grain}'s end",
                FieldIssue("#/valuation_on", f"must be the last day of a {grain}"),
            )
        )
    first_on = repo.period_start(body.first_origin_on, grain) if body.first_origin_on else None
    scope = Scope(body.product_code, body.state, body.cost_type, first_on)
    increments = await repo.triangle_increments(
        session,
        measure=body.measure,
        grain=grain,
        valuation=valuation,
        scope=scope,
        net_of_recoveries=body.net_of_recoveries,
    )
    if first_on is None:
        if not increments:
            return Err(
                invalid(
                    "reserving.no_claims",
                    "no claims in scope by the valuation date: nothing to build a triangle from",
                )
            )
        first_on = min(origin for origin, _, _ in increments)
    if first_on > valuation:
        return Err(
            invalid(
                "reserving.bad_period",
                "the first accident period starts after the valuation date",
                FieldIssue("#/first_origin_on", "must not be after valuation_on"),
            )
        )
    count = repo.periods_between(first_on, repo.period_start(valuation, grain), grain) + 1
    if count > MAX_ORIGINS:
        return Err(
            invalid(
                "reserving.too_many_origins",
                f"{count} accident periods: at most {MAX_ORIGINS}",
                FieldIssue("#/first_origin_on", f"at most {MAX_ORIGINS} periods before"),
            )
        )
    starts = [repo.add_periods(first_on, n, grain) for n in range(count)]
    months = GRAIN_MONTHS[grain]
    try:
        tri = Triangle(
            tuple(repo.period_label(s, grain) for s in starts),
            tuple(months * (k + 1) for k in range(count)),
            _values(cumulate(increments, starts)),
            body.measure,
            valuation,
            allow_decrease=body.measure == "paid" and body.net_of_recoveries,
        )
    except ReservingError as error:
        return Err(invalid("reserving.bad_triangle", str(error)))
    row = LossTriangle(
        name=body.name,
        measure=body.measure,
        source=TriangleSource.BUILT.value,
        origin_grain=grain,
        development_months=months,
        valuation_on=valuation,
        scope={
            "product_code": body.product_code,
            "state": body.state,
            "cost_type": body.cost_type.value if body.cost_type else None,
            "net_of_recoveries": body.net_of_recoveries,
            "first_origin_on": first_on.isoformat(),
        },
        cells=tri.to_cells(),
        created_by=actor.id,
        created_at=clock.now(),
    )
    return Ok(await _stored(session, row, actor, "reserving.triangle_built"))


async def import_triangle(
    session: AsyncSession, body: TriangleImport, *, actor: Actor
) -> Result[LossTriangle, DomainError]:
    """A historical triangle from CSV; 422 with every problem, each pointing at its cell."""
    parsed = parse_csv(
        body.csv,
        measure=body.measure,
        cumulative=body.cumulative,
        allow_decrease=body.allow_decrease,
        valuation_date=body.valuation_on,
    )
    if isinstance(parsed, list):
        return Err(
            DomainError(
                ErrorKind.INVALID,
                "reserving.bad_triangle_csv",
                f"the triangle has {len(parsed)} problem(s); each names its row and column",
                errors=tuple(FieldIssue("#/csv", str(p)) for p in parsed),
                extra={"problems": [p.to_dict() for p in parsed]},
            )
        )
    ages = parsed.ages
    row = LossTriangle(
        name=body.name,
        measure=body.measure,
        source=TriangleSource.IMPORTED.value,
        origin_grain=body.grain,
        development_months=ages[1] - ages[0] if len(ages) > 1 else ages[0],
        valuation_on=body.valuation_on,
        scope={
            "sha256": hashlib.sha256(body.csv.encode()).hexdigest(),
            "cumulative": body.cumulative,
            "allow_decrease": body.allow_decrease,
        },
        cells=parsed.to_cells(),
        created_by=actor.id,
        created_at=clock.now(),
    )
    return Ok(await _stored(session, row, actor, "reserving.triangle_imported"))


async def _stored(
    session: AsyncSession, row: LossTriangle, actor: Actor, action: str
) -> LossTriangle:
    session.add(row)
    await session.flush()
    cells = row.cells
    await audit.record(
        session,
        actor,
        action,
        "loss_triangle",
        str(row.id),
        {"measure": row.measure, "origins": len(cells["origins"]), "ages": len(cells["ages"])},
    )
    return row


async def get_triangle(
    session: AsyncSession, triangle_id: uuid.UUID
) -> Result[LossTriangle, DomainError]:
    row = await repo.get_triangle(session, triangle_id)
    return Ok(row) if row is not None else Err(TRIANGLE_NOT_FOUND)


async def list_triangles(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> Result[tuple[list[LossTriangle], str | None], DomainError]:
    """Newest first."""
    return await keyset_page(
        session, repo.triangles(), LossTriangle, cursor=cursor, limit=limit, descending=True
    )


# -- analyses ----------------------------------------------------------------------------------


async def ledger_premium(session: AsyncSession, row: LossTriangle) -> dict[str, Decimal]:
    """A built triangle's earned premium by origin: what billing earned in each accident
    period for the triangle's product and state."""
    grain: Grain = "quarter" if row.origin_grain == "quarter" else "year"
    labels = [str(o) for o in row.cells["origins"]]
    starts = {label: repo.parse_label(label, grain) for label in labels}
    known = [s for s in starts.values() if s is not None]
    assert row.valuation_on is not None  # a built triangle always has its valuation date
    earned = await earned_premium(
        session,
        known,
        grain,
        valuation=row.valuation_on,
        product_code=row.scope.get("product_code"),
        state=row.scope.get("state"),
    )
    by_start: dict[date, Decimal] = {}
    for (_, _, start), amount in earned.items():
        by_start[start] = by_start.get(start, Decimal(0)) + amount
    return {
        label: by_start.get(start, Decimal(0)) if start else Decimal(0)
        for label, start in starts.items()
    }


async def _premium(
    session: AsyncSession, row: LossTriangle, body: BornhuetterFergusonRun | CapeCodRun
) -> Result[tuple[dict[str, Decimal], str], DomainError]:
    if row.source == TriangleSource.BUILT.value:
        if body.earned_premium is not None:
            return Err(
                invalid(
                    "reserving.premium_from_billing",
                    "a built triangle's earned premium comes from billing's books",
                    FieldIssue("#/earned_premium", "leave out for a built triangle"),
                )
            )
        return Ok((await ledger_premium(session, row), "billing"))
    if body.earned_premium is None:
        return Err(
            invalid(
                "reserving.premium_required",
                "an imported triangle needs earned premium by origin for this method",
                FieldIssue("#/earned_premium", "required: {origin: amount} for every origin"),
            )
        )
    return Ok((dict(body.earned_premium), "request"))


async def run_analysis(
    session: AsyncSession, triangle_id: uuid.UUID, body: AnalysisCreate, *, actor: Actor
) -> Result[ReserveAnalysis, DomainError]:
    row = await repo.get_triangle(session, triangle_id)
    if row is None:
        return Err(TRIANGLE_NOT_FOUND)
    tri = Triangle.from_cells(row.cells)
    parameters: dict[str, Any] = body.model_dump(mode="json")
    average, tail = body.average, float(body.tail)
    try:
        match body:
            case ChainLadderRun():
                selected = {age: float(f) for age, f in body.selected.items()}
                result = chain_ladder(tri, average=average, selected=selected, tail=tail)
                output = result.to_dict()
            case MackRun():
                output = mack(
                    tri,
                    sigma=body.sigma_extrapolation,
                    average=average,
                    tail=tail,
                    tail_sigma=None if body.tail_sigma is None else float(body.tail_sigma),
                    tail_se=None if body.tail_se is None else float(body.tail_se),
                ).to_dict()
            case BornhuetterFergusonRun() | CapeCodRun():
                match await _premium(session, row, body):
                    case Err() as err:
                        return err
                    case Ok((premium, source)):
                        pass
                parameters["earned_premium"] = {o: f"{a:f}" for o, a in premium.items()}
                parameters["earned_premium_source"] = source
                output = _expected(tri, body, premium)
        json.dumps(output, allow_nan=False)
    except (ValueError, ArithmeticError) as error:  # ReservingError is a ValueError
        return Err(invalid("reserving.method_failed", str(error)))
    analysis = ReserveAnalysis(
        triangle_id=row.id,
        method=body.method,
        parameters=parameters,
        result=output,
        created_by=actor.id,
        created_at=clock.now(),
    )
    session.add(analysis)
    await session.flush()
    # Shown from what the database stored, as every later read shows it.
    await session.refresh(analysis)
    totals = output.get("totals", {})
    await audit.record(
        session,
        actor,
        "reserving.analysis_run",
        "reserve_analysis",
        str(analysis.id),
        {"triangle_id": str(row.id), "method": body.method, "ibnr": totals.get("ibnr")},
    )
    return Ok(analysis)


def _expected(
    tri: Triangle, body: BornhuetterFergusonRun | CapeCodRun, premium: dict[str, Decimal]
) -> dict[str, Any]:
    selected = {age: float(f) for age, f in body.selected.items()}
    if isinstance(body, CapeCodRun):
        return cape_cod(
            tri, premium, average=body.average, selected=selected, tail=float(body.tail)
        ).to_dict()
    ratio = body.expected_loss_ratio
    elr: float | dict[str, float] = (
        {o: float(r) for o, r in ratio.items()} if isinstance(ratio, dict) else float(ratio)
    )
    return bornhuetter_ferguson(
        tri, premium, elr, average=body.average, selected=selected, tail=float(body.tail)
    ).to_dict()


async def get_analysis(
    session: AsyncSession, triangle_id: uuid.UUID, analysis_id: uuid.UUID
) -> Result[ReserveAnalysis, DomainError]:
    row = await repo.get_analysis(session, triangle_id, analysis_id)
    return Ok(row) if row is not None else Err(ANALYSIS_NOT_FOUND)


async def list_analyses(
    session: AsyncSession, triangle_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Result[tuple[list[ReserveAnalysis], str | None], DomainError]:
    if await repo.get_triangle(session, triangle_id) is None:
        return Err(TRIANGLE_NOT_FOUND)
    return await keyset_page(
        session,
        repo.analyses_of(triangle_id),
        ReserveAnalysis,
        cursor=cursor,
        limit=limit,
        descending=True,
    )
