"""Coverage on a claim, as pure rules: was the policy in force on the loss date and did it
have a coverage the cause of loss is paid under; and what limit and deductible a coverage
carries on a claim (the exposure's terms), read from the policy's state on the loss date and
the product's ``claims.coverage_terms``.

A policy covers the days ``term_start <= day < term_end``: the expiration day belongs to the
next term (a renewal), as ``PolicyState.covers`` says. A cancellation effective on a day ends
cover from that day; a reinstatement with a lapse leaves the days of the lapse uncovered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pd_prime_demo.core.money import money_text
from pd_prime_demo.rating.definition import (
    ClaimAmount,
    CoverageClaimTerms,
    ProductVersionDefinition,
)

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True, slots=True)
class Finding:
    """One reason cover is in doubt (stored on the claim as ``{"code", "message"}``)."""

    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class ExposureTerms:
    """A coverage's limit and deductible on a claim. ``limit_amount`` is per claimant (the
    first figure of a split limit) and None on a valuation basis (no policy limit: the
    adjuster's valuation, e.g. actual cash value of a car); ``occurrence_limit`` is shared by
    the occurrence's claimants (None with no such cap)."""

    limit_amount: Decimal | None
    occurrence_limit: Decimal | None
    deductible_amount: Decimal
    explanation: str


class TermsUnresolvedError(ValueError):
    """The product does not say how a claim reads this coverage's limit or deductible
    (``rating.validation`` refuses such products; a product filed before it may have one)."""


@dataclass(frozen=True, slots=True)
class PolicyOnLossDate:
    """What the coverage check needs of the policy's history on the loss date."""

    status: str  # StatusOn: not_yet_effective, in_force, cancelled, expired
    term_start: date | None
    term_end: date | None
    coverages: dict[str, dict[str, str]]
    vehicle_count: int
    cancelled_on: date | None = None
    lapse: tuple[date, date] | None = None  # [from, to) without cover after a reinstatement


def loss_day(loss_at: datetime, zone: str) -> date:
    """The calendar day of ``loss_at`` in ``zone``."""
    return loss_at.astimezone(ZoneInfo(zone)).date()


def zone_finding(loss_at: datetime, reporter_zone: str, policy_zone: str) -> Finding | None:
    """A finding when the reporter's zone puts the loss on another day than the policy's zone
    (where the policy period is stated, and so the day cover is checked on): a person looks
    at which day it was, the reporter's zone being theirs to give."""
    policy_day = loss_day(loss_at, policy_zone)
    reported_day = loss_day(loss_at, reporter_zone)
    if reported_day == policy_day:
        return None
    return Finding(
        "loss_date_zone_differs",
        f"The loss at {loss_at.isoformat()} is on {reported_day.isoformat()} in the reported "
        f"zone {reporter_zone} but on {policy_day.isoformat()} in {policy_zone}, where the "
        f"policy period is stated; cover was checked on {policy_day.isoformat()}.",
    )


def per_vehicle(definition: ProductVersionDefinition) -> set[str]:
    return {c.code for c in definition.coverages if c.unit == "vehicle"}


def verify(
    policy: PolicyOnLossDate,
    loss_on: date,
    cause_coverages: list[str],
    cause_code: str,
    *,
    vehicle_coverages: set[str],
    vehicle_units: list[int],
) -> tuple[list[Finding], list[str]]:
    """The findings against cover (none: verified) and the coverages the loss may be paid
    under (those of the cause the policy had on the loss date, for every insured vehicle
    named when the coverage is rated per vehicle)."""
    findings: list[Finding] = []
    day = loss_on.isoformat()
    if policy.status == "not_yet_effective":
        start = policy.term_start.isoformat() if policy.term_start else "its inception"
        findings.append(
            Finding(
                "policy.not_yet_effective", f"The loss on {day} is before cover began on {start}."
            )
        )
    elif policy.status == "expired":
        end = policy.term_end.isoformat() if policy.term_end else "its expiration"
        findings.append(
            Finding(
                "policy.expired",
                f"The loss on {day} is on or after the term ended on {end} (a term covers up to "
                "the day before its expiration date).",
            )
        )
    elif policy.status == "cancelled":
        when = policy.cancelled_on.isoformat() if policy.cancelled_on else "before the loss"
        findings.append(
            Finding(
                "policy.cancelled",
                f"The policy was cancelled effective {when}, on or before the loss on {day}.",
            )
        )
    elif policy.lapse is not None and policy.lapse[0] <= loss_on < policy.lapse[1]:
        findings.append(
            Finding(
                "policy.lapsed",
                f"The loss on {day} falls in the lapse in cover from {policy.lapse[0].isoformat()} "
                f"to {policy.lapse[1].isoformat()} (reinstated without back cover).",
            )
        )
    for unit in vehicle_units:
        if not 0 <= unit < policy.vehicle_count:
            findings.append(
                Finding(
                    "policy.vehicle_not_scheduled",
                    f"Vehicle {unit} was not on the policy's schedule on {day} "
                    f"({policy.vehicle_count} vehicle(s) listed).",
                )
            )
    had = [c for c in cause_coverages if c in policy.coverages]
    if not had:
        names = ", ".join(cause_coverages)
        findings.append(
            Finding(
                "policy.coverage_missing",
                f"A loss by {cause_code} is paid under {names}; the policy had none of them on "
                f"{day}.",
            )
        )
    if any(not 0 <= unit < policy.vehicle_count for unit in vehicle_units):
        # A coverage rated per vehicle is not had on a vehicle the schedule did not list.
        had = [c for c in had if c not in vehicle_coverages]
    return findings, had


def _ref_value(ref: str, risk: dict[str, Any], unit: int | None) -> Decimal:
    scope, _, name = ref.partition(".")
    if scope == "policy":
        source = risk.get("policy", {})
    elif scope == "vehicle" and unit is not None:
        vehicles = risk.get("vehicles", [])
        source = vehicles[unit] if 0 <= unit < len(vehicles) else {}
    else:
        raise TermsUnresolvedError(f"{ref} cannot be read on a claim")
    if name not in source:
        raise TermsUnresolvedError(f"{ref} is not among the policy's rating inputs")
    return Decimal(str(source[name]))


def _amount(
    spec: ClaimAmount, risk: dict[str, Any], unit: int | None
) -> tuple[Decimal | None, Decimal | None, str]:
    """(per claimant, per occurrence, how) of one limit or deductible entry."""
    if spec.percent_of is not None and spec.percent is not None:
        base = _ref_value(spec.percent_of, risk, unit)
        value = (base * spec.percent / 100).quantize(CENT, ROUND_HALF_UP)
        how = f"{spec.percent}% of {spec.percent_of} {money_text(base)} = {money_text(value)}"
        return value, value, how
    each = spec.per_claimant
    occurrence = spec.per_occurrence
    if each is None and occurrence is None:
        raise TermsUnresolvedError("a claim amount names neither a figure nor a percentage")
    if each is not None and occurrence is not None:
        how = f"{money_text(each)} each claimant, {money_text(occurrence)} each occurrence"
        return each, occurrence, how
    if each is not None:
        # Each person, with no cap on the occurrence (HO-3 Coverage F).
        return each, None, f"{money_text(each)} each claimant"
    assert occurrence is not None
    return occurrence, occurrence, f"{money_text(occurrence)} each occurrence"


def exposure_terms(
    definition: ProductVersionDefinition,
    coverage_code: str,
    chosen: dict[str, str],
    risk: dict[str, Any],
    unit: int | None = None,
) -> ExposureTerms:
    """The limit and deductible of ``coverage_code`` given the policy's chosen option codes
    (``{"limit": ..., "deductible": ...}``) and rating inputs on the loss date. Raises
    :class:`TermsUnresolvedError` when the product does not say."""
    coverage = next((c for c in definition.coverages if c.code == coverage_code), None)
    if coverage is None:
        raise TermsUnresolvedError(f"{coverage_code} is not a coverage of the product")
    claims = definition.claims
    terms = (claims.coverage_terms.get(coverage_code) if claims else None) or CoverageClaimTerms()
    # An option left out when quoting takes the coverage's default, as rating applies it
    # (``rating.risk.build_selections``): the policy stores what was asked, ``{}`` included.
    limit_code = chosen.get("limit") or coverage.default_limit
    parts: list[str] = []
    limit: Decimal | None
    occurrence: Decimal | None
    if terms.limit_basis == "valuation":
        limit = occurrence = None
        parts.append("limit: the property's valuation (no policy limit)")
    elif terms.limit_basis == "variable":
        if terms.limit_variable is None:
            raise TermsUnresolvedError(f"{coverage_code} names no limit variable")
        limit = occurrence = _ref_value(terms.limit_variable, risk, unit).quantize(CENT)
        parts.append(f"limit: {terms.limit_variable} {money_text(limit)}")
    else:
        if limit_code is None:
            raise TermsUnresolvedError(f"{coverage_code} has no limit chosen")
        if limit_code in terms.limits:
            limit, occurrence, how = _amount(terms.limits[limit_code], risk, unit)
        else:
            option = next((o for o in coverage.limits if o.code == limit_code), None)
            if option is None or option.amount is None:
                raise TermsUnresolvedError(
                    f"limit option {limit_code} of {coverage_code} has no amount"
                )
            limit = occurrence = option.amount
            how = money_text(option.amount)
        parts.append(f"limit {limit_code}: {how}")
    deductible = ZERO
    deductible_code = chosen.get("deductible") or coverage.default_deductible
    if deductible_code is None:
        parts.append("no deductible")
    elif deductible_code in terms.deductibles:
        value, _, how = _amount(terms.deductibles[deductible_code], risk, unit)
        deductible = value if value is not None else ZERO
        parts.append(f"deductible {deductible_code}: {how}")
    else:
        option = next((o for o in coverage.deductibles if o.code == deductible_code), None)
        if option is None or option.amount is None:
            raise TermsUnresolvedError(
                f"deductible option {deductible_code} of {coverage_code} has no amount"
            )
        deductible = option.amount
        parts.append(f"deductible {deductible_code}: {money_text(option.amount)}")
    return ExposureTerms(
        limit_amount=None if limit is None else Decimal(limit),
        occurrence_limit=None if occurrence is None else Decimal(occurrence),
        deductible_amount=Decimal(deductible),
        explanation=f"{coverage.name}: " + "; ".join(parts),
    )
