"""Actuarial premium reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import Session
from pd_prime_demo.api.response_patterns import fail, problem_responses
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.dates import BusinessDate, Moment
from pd_prime_demo.core.money import Money
from pd_prime_demo.core.result_types import FieldIssue, invalid
from pd_prime_demo.identity.dependencies import require
from pd_prime_demo.reports import service

router = APIRouter(prefix=f"{API_V1}/reports", tags=["reports"])


class PremiumLineRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)
    product_code: str
    state: str
    written: Money
    earned: Money
    unearned: Money
    written_to_date: Money
    earned_to_date: Money
    in_force_premium: Money
    in_force_count: int


class ReconciliationRead(BaseModel):
    """unearned premium: report + earning not yet posted = ledger on the end date;
    ledger on the end date + booked after the end - earned after the end = ledger on all dates."""

    model_config = ConfigDict(frozen=True, from_attributes=True)
    report_unearned: Money
    ledger_unearned: Money = Field(description="The ledger's unearned premium as of `end`.")
    earning_not_yet_posted: Money = Field(
        description="Earned through `end` but not yet recognised by the earning job."
    )
    booked_after_end: Money = Field(
        description="Premium recorded with an accounting date after `end` (future-dated)."
    )
    earned_after_end: Money
    ledger_unearned_all_dates: Money


class PremiumReportRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    start: date
    end: date
    known_at: datetime | None
    lines: list[PremiumLineRead]
    reconciliation: ReconciliationRead


@router.get(
    "/premium",
    response_model=PremiumReportRead,
    responses=problem_responses(401, 403, 422),
    summary="Written, earned (daily pro-rata), unearned and in-force premium by product and state",
)
async def premium_report(
    session: Session,
    _: Annotated[Actor, Depends(require(Permission.REPORTS_READ))],
    start: Annotated[BusinessDate, Query(description="First day of the period.")],
    end: Annotated[
        BusinessDate, Query(description="Last day of the period (and the 'as of' date).")
    ],
    known_at: Annotated[
        Moment | None,
        Query(
            description="As the books stood at this moment: a closed period reads exactly as "
            "it was first produced, whatever was back-dated into it since."
        ),
    ] = None,
) -> PremiumReportRead:
    if end < start:
        fail(
            invalid(
                "report.bad_period",
                "end is before start",
                FieldIssue("#/end", "must not be before start"),
            )
        )
    report = await service.premium_report(session, start=start, end=end, known_at=known_at)
    return PremiumReportRead(
        start=report.start,
        end=report.end,
        known_at=report.known_at,
        lines=[PremiumLineRead.model_validate(line) for line in report.lines],
        reconciliation=ReconciliationRead.model_validate(report.reconciliation),
    )
