"""The product version's claims section: its causes of loss and the coverages each is paid
under, how a claim reads each coverage's limit and deductible, the claim numbers' prefix and the
zone the policy period is stated in. Part of :class:`ProductVersionDefinition`."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field

from pd_prime_demo.rating.definition_base import Amount, Code, Ref
from pd_prime_demo.rating.definition_base import Def as _Def


class ClaimAmount(_Def):
    """A limit or deductible as a claim reads it, where the option's ``amount`` does not say:
    a split limit's two figures, or a percentage of a rating variable (HO-3's Coverage B is
    10% of Coverage A; a wind deductible 2% of it)."""

    per_claimant: Amount | None = Field(
        default=None, description="Each person: the first figure of a split limit (30/60)."
    )
    per_occurrence: Amount | None = Field(
        default=None, description="Each accident or occurrence, shared by its claimants."
    )
    percent_of: Ref | None = Field(default=None, description="e.g. policy.coverage_a")
    percent: Annotated[Decimal, Field(gt=0, le=1000)] | None = None


class CoverageClaimTerms(_Def):
    """How a claim reads one coverage's limit and deductible."""

    limit_basis: Literal["option", "variable", "valuation"] = Field(
        default="option",
        description=(
            "option: the chosen limit option (its amount, or its entry in limits); variable: a "
            "rating variable's value (HO-3 Coverage A: policy.coverage_a); valuation: no policy "
            "limit, the adjuster's valuation of the damaged property (actual cash value)."
        ),
    )
    limit_variable: Ref | None = None
    limits: dict[str, ClaimAmount] = Field(
        default_factory=dict, description="By limit option code."
    )
    deductibles: dict[str, ClaimAmount] = Field(
        default_factory=dict, description="By deductible option code."
    )


class CauseOfLoss(_Def):
    code: Code
    label: str
    coverages: list[Code] = Field(
        min_length=1, description="The coverages a loss of this cause may be paid under."
    )


def _iana_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not an IANA time zone name (e.g. America/Chicago)") from exc
    return name


class ClaimsDefinition(_Def):
    """What the claims side needs of a product: its causes of loss and how they map to its
    coverages, how limits and deductibles read on a claim, its claim numbers' prefix, and the
    zone its policy periods are stated in (a loss's day is read there)."""

    number_prefix: Annotated[str, Field(pattern=r"^[A-Z]{1,6}$")] = Field(
        description="Claim numbers read <prefix>-<year>-<serial>."
    )
    time_zone: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_iana_zone)] = (
        Field(
            description=(
                "IANA zone the policy period is stated in (the named insured's address, as ISO "
                "forms say): a loss's day, the one cover is checked on, is its calendar day here."
            )
        )
    )
    causes_of_loss: list[CauseOfLoss] = Field(min_length=1)
    coverage_terms: dict[str, CoverageClaimTerms] = Field(
        default_factory=dict,
        description="By coverage code; a coverage absent here reads its options' amounts.",
    )
