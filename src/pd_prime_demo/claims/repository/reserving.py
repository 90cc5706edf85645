"""Loss reporting's and reserving's queries: every figure is an aggregate computed in
PostgreSQL (GROUP BY over ``claim_transactions`` joined to ``claims``), never a loop over rows.

Periods are calendar years, quarters or months (numbered by :func:`period_index`); a
transaction's development period is how many whole periods its accounting date lies after the
start of its claim's accident period (0 for the first). A claim's reported date and the dates
of its status changes are read in the claim's own time zone (the loss's), as its loss date is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

from sqlalchemy import Date, Integer, Select, and_, case, func, literal, select, true
from sqlalchemy import cast as sql_cast
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from pd_prime_demo.claims.enums import ClaimStatus, CostType, MoneyKind
from pd_prime_demo.claims.models import Claim, ClaimStatusChange
from pd_prime_demo.claims.money_models import ClaimTransaction
from pd_prime_demo.claims.reserving_models import LossTriangle, ReserveAnalysis

Grain = Literal["year", "quarter", "month"]
GRAIN_MONTHS: dict[str, int] = {"year": 12, "quarter": 3, "month": 1}
ZERO = Decimal(0)
Q = TypeVar("Q", bound="Select[*tuple[Any, ...]]")
RECOVERIES = (MoneyKind.SALVAGE.value, MoneyKind.SUBROGATION.value)


# -- periods (pure) ------------------------------------------------------------------------


def period_start(day: date, grain: Grain) -> date:
    months = GRAIN_MONTHS[grain]
    return date(day.year, (day.month - 1) // months * months + 1, 1)


def add_periods(start: date, count: int, grain: Grain) -> date:
    index = start.year * 12 + start.month - 1 + count * GRAIN_MONTHS[grain]
    return date(index // 12, index % 12 + 1, 1)


def period_end(start: date, grain: Grain) -> date:
    return add_periods(start, 1, grain) - timedelta(days=1)


def periods_between(first: date, last: date, grain: Grain) -> int:
    """How many periods ``last``'s start lies after ``first``'s (both period starts)."""
    months = (last.year - first.year) * 12 + last.month - first.month
    return months // GRAIN_MONTHS[grain]


def period_label(start: date, grain: Grain) -> str:
    """``2024``, ``2024Q1`` or ``2024-03``: labels that sort in time order."""
    if grain == "year":
        return f"{start.year}"
    if grain == "quarter":
        return f"{start.year}Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def parse_label(label: str, grain: Grain) -> date | None:
    """The start of the period a label names, or None when it names none of ``grain``."""
    try:
        if grain == "year" and label.isdigit() and len(label) == 4:
            return date(int(label), 1, 1)
        if grain == "quarter" and len(label) == 6 and label[4] == "Q" and label[5] in "1234":
            return date(int(label[:4]), (int(label[5]) - 1) * 3 + 1, 1)
        if grain == "month" and len(label) == 7 and label[4] == "-":
            return date(int(label[:4]), int(label[5:]), 1)
    except ValueError:
        return None
    return None


# -- SQL building blocks ---------------------------------------------------------------------


def period_index(grain: Grain, column: Any) -> ColumnElement[int]:
    """The period a date falls in as one integer (year, year*4 + quarter - 1, or year*12 +
    month - 1): ``date_part`` and integer arithmetic, some three times cheaper per row than
    ``date_trunc`` and numeric ``extract`` over a million transactions."""
    year = sql_cast(func.date_part("year", column), Integer)
    if grain == "year":
        return year
    if grain == "quarter":
        return year * 4 + sql_cast(func.date_part("quarter", column), Integer) - 1
    return year * 12 + sql_cast(func.date_part("month", column), Integer) - 1


def index_start(index: int, grain: Grain) -> date:
    """The first day of the period :func:`period_index` numbered ``index``."""
    per_year = 12 // GRAIN_MONTHS[grain]
    year, within = divmod(int(index), per_year)
    return date(year, within * GRAIN_MONTHS[grain] + 1, 1)


def development_index(grain: Grain, origin: Any, on: Any) -> ColumnElement[int]:
    """Whole periods from ``origin``'s period to ``on``'s (never below 0)."""
    return func.greatest(0, period_index(grain, on) - period_index(grain, origin))


def reported_on() -> ColumnElement[date]:
    return sql_cast(func.timezone(Claim.loss_time_zone, Claim.reported_at), Date)


def _local_day(moment: Any) -> ColumnElement[date]:
    return sql_cast(func.timezone(Claim.loss_time_zone, moment), Date)


@dataclass(frozen=True, slots=True)
class Scope:
    """Which claims a figure covers."""

    product_code: str | None = None
    state: str | None = None
    cost_type: CostType | None = None  # None: indemnity and expense (loss and LAE)
    first_loss_on: date | None = None


def _claims_in(query: Q, scope: Scope, valuation: date) -> Q:
    query = query.where(Claim.loss_on <= valuation)
    if scope.product_code is not None:
        query = query.where(Claim.product_code == scope.product_code)
    if scope.state is not None:
        query = query.where(Claim.state == scope.state)
    if scope.first_loss_on is not None:
        query = query.where(Claim.loss_on >= scope.first_loss_on)
    return query


def _money(query: Q, scope: Scope, valuation: date) -> Q:
    query = _claims_in(
        query.select_from(ClaimTransaction).join(Claim, Claim.id == ClaimTransaction.claim_id),
        scope,
        valuation,
    ).where(ClaimTransaction.accounting_on <= valuation)
    if scope.cost_type is not None:
        query = query.where(ClaimTransaction.cost_type == scope.cost_type.value)
    return query


def _sum_where(condition: ColumnElement[bool], value: Any) -> ColumnElement[Decimal]:
    return func.coalesce(func.sum(case((condition, value), else_=ZERO)), ZERO)


PAID = _sum_where(ClaimTransaction.kind == MoneyKind.PAYMENT.value, ClaimTransaction.amount)
RECOVERED = _sum_where(ClaimTransaction.kind.in_(RECOVERIES), ClaimTransaction.amount)
RESERVE_CHANGE = func.coalesce(func.sum(ClaimTransaction.reserve_change), ZERO)


# -- triangles ---------------------------------------------------------------------------------

Measure = Literal["paid", "incurred", "reported_count"]


def triangle_query(
    *,
    measure: Measure,
    grain: Grain,
    valuation: date,
    scope: Scope,
    net_of_recoveries: bool = True,
) -> Select[int, int, Any]:
    """The ONE aggregate behind a triangle: (origin period index, development index, the
    measure's increment). Paid is payments (less recoveries when ``net_of_recoveries``);
    incurred adds the movement of case reserves; reported counts the claims by the period
    they were reported in."""
    origin = period_index(grain, Claim.loss_on).label("origin")
    if measure == "reported_count":
        development = development_index(grain, Claim.loss_on, reported_on()).label("dev")
        counted = select(origin, development, func.count().label("value"))
        query = _claims_in(counted, scope, valuation).where(reported_on() <= valuation)
        return query.group_by(origin, development)
    value: ColumnElement[Any] = PAID
    if net_of_recoveries:
        value = value - RECOVERED
    if measure == "incurred":
        value = value + RESERVE_CHANGE
    moved = development_index(grain, Claim.loss_on, ClaimTransaction.accounting_on).label("dev")
    summed = select(origin, moved, value.label("value"))
    return _money(summed, scope, valuation).group_by(origin, moved)


async def triangle_increments(
    session: AsyncSession,
    *,
    measure: Measure,
    grain: Grain,
    valuation: date,
    scope: Scope,
    net_of_recoveries: bool = True,
) -> list[tuple[date, int, Decimal]]:
    """Every cell with something in it (see :func:`triangle_query`)."""
    query = triangle_query(
        measure=measure,
        grain=grain,
        valuation=valuation,
        scope=scope,
        net_of_recoveries=net_of_recoveries,
    )
    rows = await session.execute(query)
    return [(index_start(o, grain), int(d), Decimal(v)) for o, d, v in rows]


# -- loss reports ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MoneyRow:
    product_code: str
    state: str
    period: date
    paid: Decimal
    recovered: Decimal
    reserve_change: Decimal


async def money_by_period(
    session: AsyncSession,
    *,
    basis: Literal["accident", "calendar"],
    grain: Grain,
    valuation: date,
    scope: Scope,
) -> list[MoneyRow]:
    """Paid, recovered and the movement of case reserves through ``valuation``, by product,
    state and period: the claim's accident period, or the transaction's own (calendar)."""
    dated = Claim.loss_on if basis == "accident" else ClaimTransaction.accounting_on
    period = period_index(grain, dated).label("period")
    query = _money(
        select(Claim.product_code, Claim.state, period, PAID, RECOVERED, RESERVE_CHANGE),
        scope,
        valuation,
    ).group_by(Claim.product_code, Claim.state, period)
    return [
        MoneyRow(product, state, index_start(at, grain), paid, recovered, change)
        for product, state, at, paid, recovered, change in await session.execute(query)
    ]


@dataclass(frozen=True, slots=True)
class CountRow:
    product_code: str
    state: str
    period: date
    reported: int  # accident basis: by the valuation date; calendar: in the period
    closed: int  # accident: closed on the valuation date; calendar: closings in the period
    reopened: int  # calendar: reopenings in the period (accident: 0)


def _last_status(valuation: date) -> Any:
    """Each claim's status on ``valuation`` (its last change by then), a lateral subquery."""
    return (
        select(ClaimStatusChange.to_status)
        .where(
            ClaimStatusChange.claim_id == Claim.id,
            _local_day(ClaimStatusChange.at) <= valuation,
        )
        .order_by(ClaimStatusChange.at.desc(), ClaimStatusChange.id.desc())
        .limit(1)
        .lateral("last_status")
    )


async def counts_by_period(
    session: AsyncSession,
    *,
    basis: Literal["accident", "calendar"],
    grain: Grain,
    valuation: date,
    scope: Scope,
) -> list[CountRow]:
    """Claim counts by product, state and period (see :class:`CountRow`)."""
    if basis == "accident":
        status = _last_status(valuation)
        period = period_index(grain, Claim.loss_on).label("period")
        closed = func.count().filter(status.c.to_status == ClaimStatus.CLOSED.value)
        query = (
            _claims_in(
                select(Claim.product_code, Claim.state, period, func.count(), closed, literal(0)),
                scope,
                valuation,
            )
            .outerjoin(status, true())
            .where(reported_on() <= valuation)
            .group_by(Claim.product_code, Claim.state, period)
        )
        return [
            CountRow(product, state, index_start(at, grain), reported, closed, 0)
            for product, state, at, reported, closed, _ in await session.execute(query)
        ]
    rows: dict[tuple[str, str, int], list[int]] = {}
    reported_period = period_index(grain, reported_on()).label("period")
    reported = _claims_in(
        select(Claim.product_code, Claim.state, reported_period, func.count()), scope, valuation
    ).where(reported_on() <= valuation)
    for product, state, at, count in await session.execute(
        reported.group_by(Claim.product_code, Claim.state, reported_period)
    ):
        rows.setdefault((product, state, at), [0, 0, 0])[0] += count
    changed = period_index(grain, _local_day(ClaimStatusChange.at)).label("period")
    closings = func.count().filter(ClaimStatusChange.to_status == ClaimStatus.CLOSED.value)
    reopenings = func.count().filter(ClaimStatusChange.to_status == ClaimStatus.REOPENED.value)
    moves = _claims_in(
        select(Claim.product_code, Claim.state, changed, closings, reopenings).join(
            ClaimStatusChange, ClaimStatusChange.claim_id == Claim.id
        ),
        scope,
        valuation,
    ).where(_local_day(ClaimStatusChange.at) <= valuation)
    for product, state, at, closes, reopens in await session.execute(
        moves.group_by(Claim.product_code, Claim.state, changed)
    ):
        row = rows.setdefault((product, state, at), [0, 0, 0])
        row[1] += closes
        row[2] += reopens
    return [CountRow(p, s, index_start(at, grain), *v) for (p, s, at), v in rows.items()]


# -- stored triangles and analyses -------------------------------------------------------------


async def get_triangle(session: AsyncSession, triangle_id: uuid.UUID) -> LossTriangle | None:
    return await session.get(LossTriangle, triangle_id)


def triangles() -> Select[LossTriangle]:
    return select(LossTriangle)


async def get_analysis(
    session: AsyncSession, triangle_id: uuid.UUID, analysis_id: uuid.UUID
) -> ReserveAnalysis | None:
    return await session.scalar(
        select(ReserveAnalysis).where(
            and_(ReserveAnalysis.id == analysis_id, ReserveAnalysis.triangle_id == triangle_id)
        )
    )


def analyses_of(triangle_id: uuid.UUID) -> Select[ReserveAnalysis]:
    return select(ReserveAnalysis).where(ReserveAnalysis.triangle_id == triangle_id)
