"""Quote API models."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pd_prime_demo.core.dates import BusinessDate
from pd_prime_demo.core.money import Factor, Money, PercentIn, WorksheetAmount
from pd_prime_demo.quotes.enums import QuoteStatus
from pd_prime_demo.rating.schemas import CoverageChoice, RiskData


class _In(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuoteOption(_In):
    name: str = Field(min_length=1, max_length=50)
    coverages: dict[str, CoverageChoice] = Field(max_length=30)


AUTO_EXAMPLE: dict[str, Any] = {
    "customer_id": "6a0b9d4e-3f0c-5b8e-9a41-2c7de0f1a2b3",
    "product_code": "personal_auto",
    "state": "TX",
    "effective_on": "2026-12-01",
    "risk": {
        "policy": {
            "territory": "austin",
            "prior_insurance": True,
            "multi_policy": False,
            "paid_in_full": False,
        },
        "drivers": [
            {
                "age": 42,
                "years_licensed": 24,
                "accidents_3y": 0,
                "violations_3y": 0,
                "good_student": False,
            },
            {
                "age": 17,
                "years_licensed": 1,
                "accidents_3y": 0,
                "violations_3y": 0,
                "good_student": True,
            },
        ],
        "vehicles": [
            {
                "driver": 0,
                "model_year": 2022,
                "symbol": "B",
                "use": "commute",
                "annual_miles": 12000,
                "anti_theft": True,
            },
            {
                "driver": 1,
                "model_year": 2014,
                "symbol": "A",
                "use": "pleasure",
                "annual_miles": 6000,
                "anti_theft": False,
            },
        ],
    },
    "options": [
        {"name": "standard", "coverages": {"bi": {"limit": "50/100"}, "pd": {"limit": "50"}}},
        {
            "name": "full",
            "coverages": {
                "bi": {"limit": "100/300"},
                "pd": {"limit": "100"},
                "umuim": {"limit": "100/300"},
                "medpay": {"limit": "5000"},
                "collision": {"deductible": "500"},
                "comprehensive": {"deductible": "250"},
            },
        },
    ],
}


class QuoteCreate(_In):
    customer_id: uuid.UUID
    product_code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,49}$")
    state: str = Field(pattern=r"^[A-Z]{2}$")
    effective_on: BusinessDate
    risk: RiskData
    options: list[QuoteOption] = Field(
        min_length=1, max_length=3, description="Alternative coverage packages, rated side by side."
    )
    submit: bool = Field(
        default=True, description="Rate and underwrite now; false saves a draft without rating."
    )

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_extra={"example": AUTO_EXAMPLE}
    )


class QuoteUpdate(_In):
    effective_on: BusinessDate | None = None
    risk: RiskData | None = None
    options: list[QuoteOption] | None = Field(default=None, min_length=1, max_length=3)
    submit: bool = True


class UnderwritingDecision(_In):
    decision: Literal["approve", "decline"]
    note: str = Field(min_length=1, max_length=2000)
    surcharge_percent: PercentIn | None = Field(
        default=None, description="Approve with a surcharge on premium (re-rates the quote)."
    )
    options: list[QuoteOption] | None = Field(
        default=None,
        min_length=1,
        max_length=3,
        description="Approve with changed terms (re-rates the quote).",
    )


class ChargeRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    amount: Money


class OptionRating(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    coverage_premiums: dict[str, Money]
    premium: Money
    fees: list[ChargeRead]
    taxes: list[ChargeRead]
    total: Money


class RuleHitRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    action: Literal["decline", "refer"]
    reason: str
    authority: int
    where: str


class QuoteRead(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: uuid.UUID
    number: str
    customer_id: uuid.UUID
    product_code: str
    state: str
    effective_on: date
    expires_on: date
    status: QuoteStatus
    product_version_id: uuid.UUID | None
    rate_version: str | None
    risk: dict[str, Any]
    options: list[dict[str, Any]]
    rating: list[OptionRating] | None
    underwriting: list[RuleHitRead]
    required_authority: int | None
    surcharge_percent: Factor | None = Field(
        description="An underwriter's surcharge on the premium, in percent (10 is +10%)."
    )
    decision_note: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class QuotePage(BaseModel):
    model_config = ConfigDict(frozen=True)
    items: list[QuoteRead]
    next_cursor: str | None


class WorksheetLineRead(BaseModel):
    model_config = ConfigDict(frozen=True)
    coverage: str | None
    unit: str | None
    step: str
    op: str
    table: str | None
    key: str | None
    factor: Factor | None
    amount: WorksheetAmount


class OptionWorksheet(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    lines: list[WorksheetLineRead]
    premium: Money
    total: Money


class WorksheetRead(BaseModel):
    """Everything needed to recompute the premium by hand, and which filing it came from."""

    model_config = ConfigDict(frozen=True)
    quote_id: uuid.UUID
    product_version_id: uuid.UUID
    rate_version: str
    content_hash: str
    options: list[OptionWorksheet]
