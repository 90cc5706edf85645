"""Loss reports, loss triangles and reserve analyses: the API's request and response models.

Amounts read as money strings (two decimals); a stored analysis carries its inputs
(``parameters``) and the method's whole output (``result``) as it was computed, floats
written as their shortest representation, so reading it again shows exactly the same figures.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pd_prime_demo.claims.enums import CostType
from pd_prime_demo.claims.triangle_csv import MAX_CSV_CHARS
from pd_prime_demo.core.dates import BusinessDate
from pd_prime_demo.core.money import DecimalIn, Factor, Money

Measure = Literal["paid", "incurred", "reported_count"]
Average = Literal["volume", "simple"]
OriginGrain = Literal["year", "quarter"]


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


# -- loss reports -----------------------------------------------------------------------------


class LossLineRead(_Out):
    """One product, state and period. On the accident basis the figures are the period's
    accidents as they stand on the valuation date; on the calendar basis they are what
    happened in the period (case reserves and open claims at its end)."""

    product_code: str
    state: str
    period: str = Field(examples=["2025", "2025Q3", "2025-07"])
    period_start: date
    period_end: date
    paid: Money = Field(description="Payments (loss and/or LAE), gross of recoveries.")
    recoveries: Money = Field(description="Salvage and subrogation received.")
    case_reserves: Money = Field(description="Outstanding case reserves (at the period's end).")
    incurred: Money = Field(
        description="paid + case reserves - recoveries (net of recoveries); on the calendar "
        "basis paid - recoveries + the movement of case reserves in the period."
    )
    earned_premium: Money = Field(description="Earned in the period, from billing's books.")
    loss_ratio: Factor | None = Field(
        description="incurred / earned premium, to four decimals (null without premium)."
    )
    reported: int = Field(description="Claims reported (calendar basis: in the period).")
    open: int = Field(description="Claims not closed (on the valuation date / at period end).")
    closed: int = Field(description="Claims closed (calendar basis: closings in the period).")


class LossTotalsRead(_Out):
    paid: Money
    recoveries: Money
    case_reserves: Money
    incurred: Money
    earned_premium: Money
    loss_ratio: Factor | None
    reported: int
    open: int
    closed: int


class LedgerCheckRead(_Out):
    """The report's earned premium against the ledger's ``earned_premium`` account over the
    same dates (book-wide, so only without a product or state filter)."""

    report_earned_premium: Money
    ledger_earned_premium: Money
    earning_not_yet_posted: Money = Field(
        description="Earned by the earning rule but not yet recognised by the earning job."
    )


class LossReportRead(_Out):
    valuation_on: date
    basis: Literal["accident", "calendar"]
    grain: Literal["year", "quarter", "month"]
    cost_type: CostType | None
    lines: list[LossLineRead]
    totals: LossTotalsRead
    ledger: LedgerCheckRead | None


# -- triangles --------------------------------------------------------------------------------


class TriangleBuild(_In):
    """A triangle from the claims' own transactions, as they stood on ``valuation_on``."""

    name: str = Field(min_length=1, max_length=200, examples=["Auto TX paid, AY"])
    measure: Measure
    grain: OriginGrain = Field(
        "year", description="Accident years with 12-month ages, or quarters with 3-month ages."
    )
    valuation_on: BusinessDate = Field(description="The last day of a year (or quarter).")
    product_code: str | None = Field(None, min_length=1, max_length=50)
    state: str | None = Field(None, min_length=2, max_length=2)
    cost_type: CostType | None = Field(
        None, description="indemnity (loss), expense (LAE), or both when absent."
    )
    net_of_recoveries: bool = Field(
        True, description="Paid and incurred less salvage and subrogation."
    )
    first_origin_on: BusinessDate | None = Field(
        None, description="The first accident period (its start); default the earliest loss."
    )


class TriangleImport(_In):
    """A historical triangle: CSV, wide (``origin,12,24,...``) or long (``origin,age,value``)."""

    name: str = Field(min_length=1, max_length=200)
    measure: Measure
    grain: OriginGrain = "year"
    cumulative: bool = Field(True, description="false: the values are by development period.")
    allow_decrease: bool = Field(
        False, description="Let cumulative paid decrease (paid net of recoveries)."
    )
    valuation_on: BusinessDate | None = None
    csv: str = Field(min_length=1, max_length=MAX_CSV_CHARS)


class TriangleRead(_Out):
    id: uuid.UUID
    name: str
    measure: Measure
    source: Literal["built", "imported"]
    grain: str
    development_months: int
    valuation_on: date | None
    scope: dict[str, Any] = Field(description="What a built triangle covers; an import's file.")
    origins: list[str]
    ages: list[int] = Field(description="Development ages in months.")
    values: list[list[str | None]] = Field(
        description="Cumulative values by origin and age (null: not yet known)."
    )
    created_by: str
    created_at: datetime


class TrianglePage(_Out):
    items: list[TriangleRead]
    next_cursor: str | None


# -- analyses ---------------------------------------------------------------------------------

PositiveFactor = Annotated[DecimalIn, Field(gt=0, le=1000)]


class _Development(_In):
    average: Average = Field("volume", description="Volume-weighted or simple average.")
    tail: PositiveFactor = Field(Decimal(1), description="Develops the last age to ultimate.")


class _Selectable(_Development):
    selected: dict[int, PositiveFactor] = Field(
        default_factory=dict,
        description="Factors chosen by age developed from: {12: 2.5} is the 12-24 factor.",
    )


class ChainLadderRun(_Selectable):
    method: Literal["chain_ladder"]


class MackRun(_Development):
    method: Literal["mack"]
    sigma_extrapolation: Literal["log-linear", "mack"] = Field(
        "log-linear", description="How the last sigma is estimated (named in the result)."
    )
    tail_sigma: Annotated[DecimalIn, Field(ge=0)] | None = None
    tail_se: Annotated[DecimalIn, Field(ge=0)] | None = None


Premiums = dict[str, Annotated[DecimalIn, Field(gt=0, decimal_places=2)]]


class BornhuetterFergusonRun(_Selectable):
    method: Literal["bornhuetter_ferguson"]
    expected_loss_ratio: (
        Annotated[DecimalIn, Field(ge=0, le=10)]
        | dict[str, Annotated[DecimalIn, Field(ge=0, le=10)]]
    ) = Field(
        description="The a priori loss ratio (0.65 for 65%): one for all origins, or by origin.",
        examples=["0.65"],
    )
    earned_premium: Premiums | None = Field(
        None,
        description="By origin, for an imported triangle; a built one takes it from billing.",
    )


class CapeCodRun(_Selectable):
    method: Literal["cape_cod"]
    earned_premium: Premiums | None = Field(
        None,
        description="By origin, for an imported triangle; a built one takes it from billing.",
    )


AnalysisCreate = Annotated[
    ChainLadderRun | MackRun | BornhuetterFergusonRun | CapeCodRun,
    Field(discriminator="method"),
]


class OriginEstimateRead(_Out):
    origin: str
    latest: Money
    ultimate: Money
    ibnr: Money = Field(description="Ultimate less the latest value (unpaid for paid).")
    se: Money | None = Field(None, description="Mack's standard error.")


class EstimateTotalsRead(_Out):
    latest: Money
    ultimate: Money
    ibnr: Money
    se: Money | None = None


class AnalysisRead(_Out):
    id: uuid.UUID
    triangle_id: uuid.UUID
    method: str
    parameters: dict[str, Any] = Field(description="Everything the method was given.")
    result: dict[str, Any] = Field(description="Everything it produced (factors, CDFs, ...).")
    origins: list[OriginEstimateRead] = Field(description="The estimate, rounded to cents.")
    totals: EstimateTotalsRead
    created_by: str
    created_at: datetime


class AnalysisPage(_Out):
    items: list[AnalysisRead]
    next_cursor: str | None
