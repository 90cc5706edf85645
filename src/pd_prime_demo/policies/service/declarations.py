"""The declarations' facts of a policy state: the schedule, every coverage with its human limit
and deductible and its premium (per vehicle where rated per vehicle), and the premium lines,
fees and taxes itemised so they sum to the stored figures.

Pure: no I/O. The per-vehicle premiums and the policy-level adjustments come from one rating
of the state with its worksheet (the same engine that priced it, so the units sum to the stored
coverage premiums to the cent); where that rating does not reproduce the stored figures (a
policy imported with its own premiums, a version changed since), the page prints the stored
figures whole instead, so its lines always sum to what was charged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.policies.service import declaration_facts as f
from pd_prime_demo.policies.state import PolicyState
from pd_prime_demo.rating.definition import Coverage, Option, ProductVersionDefinition
from pd_prime_demo.rating.engine import CompiledProduct
from pd_prime_demo.rating.packages import rate_packages
from pd_prime_demo.rating.values import CENT, ZERO, WorksheetLine

_ZONES = {
    "America/New_York": "Eastern",
    "America/Detroit": "Eastern",
    "America/Chicago": "Central",
    "America/Denver": "Mountain",
    "America/Phoenix": "Mountain",
    "America/Los_Angeles": "Pacific",
    "America/Anchorage": "Alaska",
    "Pacific/Honolulu": "Hawaii-Aleutian",
}


def money(amount: Decimal) -> str:
    """Money as the facts carry it: a plain decimal string to the cent ("1234.50")."""
    return str(Decimal(amount).quantize(CENT, ROUND_HALF_UP))


def words(code: str | None) -> str:
    """A code as words, capitalised ("semi_annual" -> "Semi annual")."""
    text = (code or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def priced(amount: Decimal) -> str:
    """Money as words print it ("$1,234.50", "-$12.00")."""
    return f"{'-' if amount < 0 else ''}${abs(amount):,.2f}"


def dollars(amount: Decimal) -> str:
    """A limit as printed: whole dollars without cents ("$300,000"), cents when it has them."""
    whole = amount == amount.to_integral_value()
    return f"${amount:,.0f}" if whole else f"${amount:,.2f}"


def period(defn: ProductVersionDefinition, start: Any, end: Any) -> f.Period:
    """The policy period: 12:01 a.m. standard time at the insured's address, read in the zone
    the product's claims section names (the zone a loss's day is read in)."""
    zone = defn.claims.time_zone if defn.claims is not None else ""
    name = _ZONES.get(zone)
    shown = f"{name} Time ({zone})" if name else zone
    return f.Period(
        start=start,
        end=end,
        time="12:01 a.m. standard time at the address of the named insured",
        zone=shown or "the named insured's local time",
    )


def local_day(defn: ProductVersionDefinition, moment: datetime) -> date:
    """The day ``moment`` falls on in the policy's zone (the claims section's; UTC without
    one): a page recorded at 02:00 UTC on the 2nd is issued on the 1st in Chicago."""
    zone = defn.claims.time_zone if defn.claims is not None else ""
    try:
        return moment.astimezone(ZoneInfo(zone) if zone else UTC).date()
    except (ZoneInfoNotFoundError, ValueError):
        return moment.astimezone(UTC).date()


def _text(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    return str(value) if value is not None else ""


def drivers(risk: Mapping[str, Any]) -> list[f.Driver]:
    return [
        f.Driver(
            number=i + 1,
            name=_text(d, "name") or f"Driver {i + 1}",
            age=_text(d, "age"),
            years_licensed=_text(d, "years_licensed"),
        )
        for i, d in enumerate(risk.get("drivers") or [])
    ]


def vehicles(risk: Mapping[str, Any], named: Sequence[f.Driver]) -> list[f.Vehicle]:
    found = []
    for i, v in enumerate(risk.get("vehicles") or []):
        index = v.get("driver")
        driver = named[index].name if isinstance(index, int) and 0 <= index < len(named) else ""
        found.append(
            f.Vehicle(
                number=i + 1,
                year=_text(v, "model_year"),
                make=_text(v, "make"),
                model=_text(v, "model"),
                vin=_text(v, "vin"),
                use=words(_text(v, "use")),
                principal_driver=driver,
            )
        )
    return found


def dwelling(defn: ProductVersionDefinition, risk: Mapping[str, Any]) -> f.Dwelling | None:
    """The HO-3 dwelling; None for a product that insures no dwelling."""
    if defn.line_of_business != "homeowners":
        return None
    policy = risk.get("policy") or {}
    coverage_a = policy.get("coverage_a")
    return f.Dwelling(
        premises=_text(policy, "premises_address") or "The mailing address of the named insured",
        construction=words(_text(policy, "construction")),
        year_built=_text(policy, "year_built"),
        protection_class=_text(policy, "protection_class"),
        roof_age=_text(policy, "roof_age"),
        coverage_a=dollars(Decimal(str(coverage_a))) if coverage_a is not None else "",
    )


def _variable(risk: Mapping[str, Any], ref: str | None) -> Decimal | None:
    if ref is None or not ref.startswith("policy."):
        return None
    raw = (risk.get("policy") or {}).get(ref.removeprefix("policy."))
    return Decimal(str(raw)) if isinstance(raw, int | float | str | Decimal) else None


def _option_label(
    cov: Coverage, options: list[Option], code: str | None, risk: Mapping[str, Any]
) -> str:
    option = next((o for o in options if o.code == code), None)
    if option is None:
        return code or ""
    basis = _variable(risk, cov.basis)
    if option.percent is not None and basis is not None:
        share = (basis * option.percent / 100).quantize(CENT, ROUND_HALF_UP)
        return f"{dollars(share)} ({option.label})"
    return option.label


def limit_label(
    defn: ProductVersionDefinition, cov: Coverage, code: str | None, risk: Mapping[str, Any]
) -> str:
    """The limit as a person reads it: the option's label (with the dollars a percentage comes
    to), the amount of the variable it is taken from (Coverage A), or how a claim values it."""
    if cov.limits:
        return _option_label(cov, cov.limits, code, risk)
    terms = defn.claims.coverage_terms.get(cov.code) if defn.claims is not None else None
    source = cov.limit_from or (terms.limit_variable if terms is not None else None)
    if (amount := _variable(risk, source)) is not None:
        return dollars(amount)
    if terms is not None and terms.limit_basis == "valuation":
        return "Actual cash value"
    return "Included"


def deductible_label(cov: Coverage, code: str | None, risk: Mapping[str, Any]) -> str:
    return _option_label(cov, cov.deductibles, code, risk) if cov.deductibles else ""


def forms(defn: ProductVersionDefinition, state: PolicyState) -> list[f.Form]:
    """The forms making up the policy: those always attached, and those of its coverages."""
    return [
        f.Form(number=form.number, edition=form.edition, title=form.title)
        for form in defn.forms
        if not form.coverages or any(c in state.coverages for c in form.coverages)
    ]


@dataclass(frozen=True, slots=True)
class PremiumLines:
    """A state's premium lines: coverage lines, then adjustments, fees and taxes."""

    coverages: list[f.CoverageLine]
    adjustments: list[f.Line]
    fees: list[f.Line]
    taxes: list[f.Line]


def _adjustment_name(line: WorksheetLine) -> str:
    if line.op == "minimum":
        return f"{words(line.step)} adjustment"
    if line.op == "round":
        return "Rounding"
    if line.factor is not None and line.op == "multiply":
        change = (line.factor - 1) * 100
        sign = "+" if change > 0 else "-"
        return f"{words(line.step)} ({sign}{abs(change).normalize():f}%)"
    return words(line.step)


def premium_lines(
    defn: ProductVersionDefinition, engine: CompiledProduct, state: PolicyState
) -> PremiumLines:
    """Every premium line of ``state``: they sum to its stored term premium, fees and taxes."""
    covs = {c.code: c for c in defn.coverages}
    risk = state.risk
    rated = rate_packages(
        defn,
        engine,
        risk,
        [{"name": state.option, "coverages": state.coverages}],
        state.surcharge,
        explain=True,
    )
    if isinstance(rated, Ok):
        result = rated.value.results[0][1]
        lines = _from_worksheet(defn, result.worksheet, risk, state)
        fees = [f.Line(name=c.name, amount=money(c.amount)) for c in result.fees]
        taxes = [f.Line(name=c.name, amount=money(c.amount)) for c in result.taxes]
        if (
            lines is not None
            and sum((c.amount for c in result.fees), ZERO) == state.fees
            and sum((t.amount for t in result.taxes), ZERO) == state.taxes
        ):
            return PremiumLines(lines[0], lines[1], fees, taxes)
    # The stored figures whole: what was charged, even where a rating today differs.
    whole = [
        f.CoverageLine(
            code=code,
            name=covs[code].name if code in covs else words(code),
            vehicle="All vehicles" if code in covs and covs[code].unit == "vehicle" else "",
            limit=limit_label(defn, covs[code], _chosen(state, covs[code], "limit"), risk)
            if code in covs
            else "",
            deductible=deductible_label(covs[code], _chosen(state, covs[code], "deductible"), risk)
            if code in covs
            else "",
            premium=money(premium),
        )
        for code, premium in state.coverage_premiums.items()
    ]
    rest = state.term_premium - sum(state.coverage_premiums.values(), ZERO)
    return PremiumLines(
        whole,
        [f.Line(name="Premium adjustments", amount=money(rest))] if rest else [],
        [f.Line(name="Fees", amount=money(state.fees))] if state.fees else [],
        [f.Line(name="Taxes and assessments", amount=money(state.taxes))] if state.taxes else [],
    )


def _chosen(state: PolicyState, cov: Coverage, attr: str) -> str | None:
    default = cov.default_limit if attr == "limit" else cov.default_deductible
    return state.coverages.get(cov.code, {}).get(attr) or default


def _from_worksheet(
    defn: ProductVersionDefinition,
    worksheet: Sequence[WorksheetLine],
    risk: Mapping[str, Any],
    state: PolicyState,
) -> tuple[list[f.CoverageLine], list[f.Line]] | None:
    """Coverage lines per unit and the policy-level adjustments from a worksheet, or None when
    they do not reproduce the stored premiums."""
    unit_amounts: dict[tuple[str, str | None], Decimal] = {}
    running: Decimal | None = None
    adjustments: list[f.Line] = []
    for line in worksheet:
        if line.coverage is not None:
            unit_amounts[(line.coverage, line.unit)] = line.amount  # the last step's amount
        elif line.op == "sum":
            running = line.amount.quantize(CENT, ROUND_HALF_UP)
        elif line.op not in ("fee", "tax") and running is not None:
            # Each adjustment is the step's effect in cents on the running premium in cents,
            # so the printed lines telescope to the (cent-rounded) premium exactly.
            amount = line.amount.quantize(CENT, ROUND_HALF_UP)
            if amount != running:
                adjustments.append(
                    f.Line(name=_adjustment_name(line), amount=money(amount - running))
                )
            running = amount
    if running != state.term_premium:
        return None
    by_vehicle: dict[int, list[f.CoverageLine]] = defaultdict(list)
    policy_lines: list[f.CoverageLine] = []
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for cov in defn.coverages:
        if cov.code not in state.coverages:
            continue
        limit = limit_label(defn, cov, _chosen(state, cov, "limit"), risk)
        deductible = deductible_label(cov, _chosen(state, cov, "deductible"), risk)
        for (code, unit), amount in unit_amounts.items():
            if code != cov.code:
                continue
            totals[code] += amount
            index = int(unit.removeprefix("vehicle[").rstrip("]")) if unit else None
            row = f.CoverageLine(
                code=code,
                name=cov.name,
                vehicle=f"Vehicle {index + 1}" if index is not None else "",
                limit=limit,
                deductible=deductible,
                premium=money(amount),
            )
            (by_vehicle[index] if index is not None else policy_lines).append(row)
    if dict(totals) != dict(state.coverage_premiums):
        return None
    ordered = [row for index in sorted(by_vehicle) for row in by_vehicle[index]]
    return ordered + policy_lines, adjustments
