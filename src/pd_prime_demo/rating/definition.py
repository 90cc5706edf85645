"""The product version format: everything a state filing says, as validated data.

A product version is self-contained: its risk variables, coverages with limit and deductible
options, rate tables, the ordered rating algorithm, underwriting rules, fees and taxes, minimum
premium, quote validity and cancellation method, for one state and one effective period.
The JSON Schema of :class:`ProductVersionDefinition` is published at
``GET /api/v1/products/schema`` and documented in ``docs/product-format.md``.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from pd_prime_demo.core.dates import BusinessDate
from pd_prime_demo.rating.claims_definition import (
    CauseOfLoss,
    ClaimAmount,
    ClaimsDefinition,
    CoverageClaimTerms,
)
from pd_prime_demo.rating.definition_base import Amount, Code, Factor, Ref
from pd_prime_demo.rating.definition_base import Def as _Def
from pd_prime_demo.rating.documents_definition import Form, Schedule, ScheduleField

# Re-exported: the format is read from here as one module.
__all__ = [
    "Amount",
    "CauseOfLoss",
    "ClaimAmount",
    "ClaimsDefinition",
    "Code",
    "CoverageClaimTerms",
    "Factor",
    "Form",
    "Ref",
    "Schedule",
    "ScheduleField",
]


class Scope(enum.StrEnum):
    POLICY = "policy"
    DRIVER = "driver"
    VEHICLE = "vehicle"


class VariableType(enum.StrEnum):
    ENUM = "enum"
    INTEGER = "integer"
    DECIMAL = "decimal"
    BOOLEAN = "boolean"


class Variable(_Def):
    name: Code
    scope: Scope
    type: VariableType
    values: list[str] | None = Field(default=None, description="Allowed values of an enum.")
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    description: str = ""


class UnitSpec(_Def):
    """How many drivers / vehicles a policy may list."""

    min_count: int = Field(ge=0, le=50)
    max_count: int = Field(ge=1, le=50)


class Option(_Def):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_./-]{1,30}$")]
    label: str = Field(description="How documents and screens name the option.")
    amount: Decimal | None = Field(default=None, description="Limit or deductible in dollars.")
    percent: Annotated[Decimal, Field(gt=0, le=100)] | None = Field(
        default=None,
        description="A share of the coverage's basis (e.g. 10 for 10% of Coverage A): "
        "documents print the dollar amount it comes to beside the label.",
    )


class Coverage(_Def):
    code: Code
    name: str
    unit: Literal["policy", "vehicle"]
    required: bool = False
    limits: list[Option] = Field(default_factory=list)
    deductibles: list[Option] = Field(default_factory=list)
    default_limit: str | None = None
    default_deductible: str | None = None
    requires: list[Code] = Field(
        default_factory=list, description="Coverages that must also be selected."
    )
    limit_from: Ref | None = Field(
        default=None,
        description="A policy variable whose value is this coverage's limit in dollars "
        "(Coverage A's dwelling limit is the risk's policy.coverage_a).",
    )
    basis: Ref | None = Field(
        default=None,
        description="The policy variable that percentage options are shares of "
        "(policy.coverage_a for Coverage B, C and D and a percentage deductible).",
    )


class ExactRow(_Def):
    key: list[str]
    value: Amount


class ExactTable(_Def):
    """Looked up by the exact value of each key."""

    kind: Literal["exact"]
    keys: list[Ref] = Field(min_length=1, max_length=4)
    rows: list[ExactRow]


class Band(_Def):
    min: Decimal = Field(description="Inclusive lower bound.")
    max: Decimal | None = Field(description="Exclusive upper bound; null for no bound.")
    value: Amount


class BandTable(_Def):
    """Looked up by the band that contains the key: bands may not overlap or leave gaps."""

    kind: Literal["band"]
    key: Ref
    bands: list[Band] = Field(min_length=1)


class Point(_Def):
    x: Decimal
    y: Amount


class InterpolatedTable(_Def):
    """Linear interpolation between the two points around the key, rounded as declared."""

    kind: Literal["interpolate"]
    key: Ref
    points: list[Point] = Field(min_length=2)
    round_to: Decimal = Field(default=Decimal("0.0001"), gt=0)


Table = Annotated[ExactTable | BandTable | InterpolatedTable, Field(discriminator="kind")]


class Condition(_Def):
    ref: Ref
    op: Literal["eq", "ne", "in", "not_in", "lt", "lte", "gt", "gte"]
    value: str | Decimal | bool | list[str]


class BaseStep(_Def):
    """Start the coverage amount from a table (base rate) or a constant."""

    op: Literal["base"]
    name: str
    table: str | None = None
    amount: Amount | None = None


class MultiplyStep(_Def):
    op: Literal["multiply"]
    name: str
    table: str | None = None
    factor: Factor | None = None
    when: list[Condition] = Field(default_factory=list, description="Apply only if all hold.")


class AddStep(_Def):
    op: Literal["add"]
    name: str
    table: str | None = None
    amount: Amount | None = None
    when: list[Condition] = Field(default_factory=list)


class Discount(_Def):
    name: str
    factor: Annotated[Decimal, Field(gt=0, le=1, decimal_places=6)]
    when: list[Condition] = Field(min_length=1)


class DiscountStep(_Def):
    """Several discounts combined (multiplicatively or additively) under an optional cap."""

    op: Literal["discounts"]
    name: str
    items: list[Discount] = Field(min_length=1)
    combine: Literal["multiplicative", "additive"] = "multiplicative"
    max_discount: Annotated[Decimal, Field(gt=0, lt=1)] | None = None


class MinimumStep(_Def):
    op: Literal["minimum"]
    name: str
    amount: Amount


class RoundingMode(enum.StrEnum):
    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    UP = "up"
    DOWN = "down"
    CEILING = "ceiling"
    FLOOR = "floor"


class RoundStep(_Def):
    op: Literal["round"]
    name: str
    unit: Annotated[Decimal, Field(gt=0)] = Decimal("0.01")
    mode: RoundingMode = RoundingMode.HALF_UP


Step = Annotated[
    BaseStep | MultiplyStep | AddStep | DiscountStep | MinimumStep | RoundStep,
    Field(discriminator="op"),
]


class FeeStep(_Def):
    """A flat policy fee, kept apart from premium (it is not earned over the term)."""

    op: Literal["fee"]
    name: str
    amount: Amount


class TaxStep(_Def):
    """A percentage of premium (and optionally fees), e.g. a premium tax or state surcharge."""

    op: Literal["tax"]
    name: str
    rate: Annotated[Decimal, Field(ge=0, le=1)]
    base: Literal["premium", "premium_and_fees"] = "premium"
    unit: Annotated[Decimal, Field(gt=0)] = Decimal("0.01")
    mode: RoundingMode = RoundingMode.HALF_UP


PolicyStep = Annotated[
    MultiplyStep | DiscountStep | MinimumStep | RoundStep | FeeStep | TaxStep,
    Field(discriminator="op"),
]


class Algorithm(_Def):
    coverages: dict[str, list[Step]] = Field(
        description="Ordered steps per coverage, run once per unit (vehicle) or per policy."
    )
    policy: list[PolicyStep] = Field(
        default_factory=list,
        description="Steps on the summed premium: policy factors, minimum, fees and taxes.",
    )


class UnderwritingRule(_Def):
    code: Code
    action: Literal["decline", "refer"]
    scope: Scope = Scope.POLICY
    when: list[Condition] = Field(min_length=1, description="The rule fires if all hold.")
    reason: str
    authority: int = Field(default=1, ge=1, le=5, description="Authority needed to approve.")


class ShortRateRow(_Def):
    """Share of the term's premium earned when cancelled within ``up_to_percent`` of the term
    (basis ``percent_of_term``) or within ``up_to_days`` days in force (``days_in_force``).

    A row carries exactly the bound of its table's basis; the first row whose bound is at
    least the elapsed share applies (see docs/product-format.md).
    """

    up_to_percent: Annotated[Decimal, Field(gt=0, le=100)] | None = None
    up_to_days: Annotated[int, Field(ge=0, le=1200)] | None = None
    earned_percent: Annotated[Decimal, Field(ge=0, le=100)]


class Cancellation(_Def):
    method: Literal["pro_rata", "short_rate", "flat", "percent_of_pro_rata"]
    short_rate_basis: Literal["percent_of_term", "days_in_force"] = Field(
        default="percent_of_term",
        description="What a short-rate row's bound measures: the share of the term elapsed, "
        "or the days in force (the cancellation date not counted).",
    )
    short_rate_table: list[ShortRateRow] = Field(default_factory=list)
    return_percent_of_pro_rata: Annotated[Decimal, Field(gt=0, le=100)] | None = Field(
        default=None,
        description="For percent_of_pro_rata: the share of the pro-rata unearned premium "
        "returned, e.g. 90.",
    )
    minimum_earned_premium: Amount | None = None


class EffectiveDates(_Def):
    """How far from today a term, or a change to it, may be effective."""

    max_backdate_days: int = Field(
        default=0,
        ge=0,
        le=365,
        description="How far in the past a quote, bind, endorsement or cancellation may be "
        "effective without the underwriting permission.",
    )
    max_advance_days: int = Field(
        default=365, ge=0, le=730, description="How far ahead a term may start."
    )


class PaymentPlan(_Def):
    code: Literal["annual", "semi_annual", "quarterly", "monthly"]
    installment_fee: Amount = Decimal(0)


DEFAULT_PLANS = [
    PaymentPlan(code="annual"),
    PaymentPlan(code="semi_annual", installment_fee=Decimal("3.00")),
    PaymentPlan(code="quarterly", installment_fee=Decimal("4.00")),
    PaymentPlan(code="monthly", installment_fee=Decimal("5.00")),
]


class Billing(_Def):
    """Payment plans, and the delinquency rules the billing run applies."""

    payment_plans: list[PaymentPlan] = Field(default_factory=lambda: list(DEFAULT_PLANS))
    invoice_lead_days: int = Field(default=15, ge=0, le=60)
    grace_days: int = Field(default=10, ge=0, le=60)
    notice_days: int = Field(default=10, ge=0, le=60)
    renewal_offer_days: int = Field(
        default=45, ge=1, le=120, description="How long before expiry a renewal is offered."
    )


class ProductVersionDefinition(_Def):
    product_code: Code
    product_name: str
    line_of_business: Literal["personal_auto", "homeowners"]
    state: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    version: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,30}$")]
    # Strict YYYY-MM-DD like every date a request gives (docs/security.md, "Strict inputs").
    effective_new_business: BusinessDate
    effective_renewal: BusinessDate
    currency: Literal["USD"] = "USD"
    policy_number_prefix: Annotated[str, Field(pattern=r"^[A-Z]{1,4}$")] = Field(
        default="PL", description="Policy numbers are {prefix}-{state}-{serial:07d}."
    )
    term_months: int = Field(default=12, ge=1, le=36)
    proration: Literal["days", "months"] = Field(
        default="days",
        description="How premium is prorated and earned: by days, or by months of the term "
        "with a partial month by its days.",
    )
    effective_dates: EffectiveDates = Field(default_factory=EffectiveDates)
    units: dict[Literal["driver", "vehicle"], UnitSpec] = Field(default_factory=dict)
    variables: list[Variable]
    coverages: list[Coverage] = Field(min_length=1)
    tables: dict[str, Table]
    algorithm: Algorithm
    underwriting_rules: list[UnderwritingRule] = Field(default_factory=list)
    quote_validity_days: int = Field(default=30, ge=1, le=120)
    cancellation: Cancellation
    billing: Billing = Field(default_factory=Billing)
    claims: ClaimsDefinition | None = Field(
        default=None,
        description="Causes of loss and claim terms; a product without them takes no claims.",
    )
    forms: list[Form] = Field(
        default_factory=list, description="The policy forms and endorsements the policy uses."
    )
    schedule: Schedule = Field(
        default_factory=Schedule,
        description="Descriptive facts of the policy, drivers and vehicles, printed on the "
        "declarations and never rated (a vehicle's make, model and VIN; a driver's name).",
    )
