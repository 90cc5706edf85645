"""Checks of a product version's claims section beyond its schema (called from
``rating.validation``): causes of loss name the product's coverages, and every coverage a
claim may be paid under says how its limit and deductible read. Each problem names its JSON
Pointer."""

from __future__ import annotations

from pd_prime_demo.core.result_types import FieldIssue
from pd_prime_demo.rating.definition import (
    ClaimAmount,
    Coverage,
    ProductVersionDefinition,
    Scope,
    Variable,
    VariableType,
)


def _escape(token: str) -> str:
    """A JSON Pointer reference token (RFC 6901): option codes such as 30/60 hold a slash."""
    return token.replace("~", "~0").replace("/", "~1")


def _check_amount(
    amount: ClaimAmount, variables: dict[str, Variable], unit: str, at: str
) -> list[FieldIssue]:
    issues: list[FieldIssue] = []
    by_percent = amount.percent_of is not None or amount.percent is not None
    by_figure = amount.per_claimant is not None or amount.per_occurrence is not None
    if by_percent == by_figure or (
        by_percent and (amount.percent_of is None or amount.percent is None)
    ):
        issues.append(FieldIssue(at, "give per_claimant/per_occurrence, or percent_of and percent"))
    if amount.percent_of is not None:
        issues += _numeric_ref(amount.percent_of, variables, unit, f"{at}/percent_of")
    each, occurrence = amount.per_claimant, amount.per_occurrence
    if each is not None and occurrence is not None and each > occurrence:
        issues.append(FieldIssue(f"{at}/per_claimant", "exceeds the per-occurrence limit"))
    if any(v is not None and v < 0 for v in (each, occurrence)):
        issues.append(FieldIssue(at, "a limit or deductible cannot be negative"))
    return issues


def _numeric_ref(ref: str, variables: dict[str, Variable], unit: str, at: str) -> list[FieldIssue]:
    var = variables.get(ref)
    if var is None:
        return [FieldIssue(at, f"unknown variable {ref!r}")]
    if var.type not in (VariableType.INTEGER, VariableType.DECIMAL):
        return [FieldIssue(at, f"{ref!r} is not numeric")]
    if var.scope is Scope.DRIVER or (var.scope is Scope.VEHICLE and unit != "vehicle"):
        return [FieldIssue(at, f"{ref!r} cannot be read for a {unit}-level coverage")]
    return []


def _defaults_read(
    coverage: Coverage,
    basis: str,
    limits: dict[str, ClaimAmount],
    deductibles: dict[str, ClaimAmount],
    at: str,
) -> list[FieldIssue]:
    """A policy that chose no limit or deductible of a coverage holds its default (rating
    applies it and the policy stores ``{}``): a claim reads the default's terms, so the
    default must name an option whose amount (or entry in the terms) a claim can read."""
    issues: list[FieldIssue] = []
    for kind, default, options, entries, needed in (
        ("limit", coverage.default_limit, coverage.limits, limits, basis == "option"),
        ("deductible", coverage.default_deductible, coverage.deductibles, deductibles, False),
    ):
        if default is None:
            # With options, rating.validation already requires a default at this pointer.
            if needed and not options:
                issues.append(
                    FieldIssue(
                        f"{at}/default_{kind}",
                        f"a claim on a policy that chose no {kind} of {coverage.code} reads "
                        "the default: name one",
                    )
                )
            continue
        if default not in {o.code for o in options}:
            continue  # rating.validation: not one of the options
        amount = next((o.amount for o in options if o.code == default), None)
        if amount is None and default not in entries and (kind == "deductible" or needed):
            issues.append(
                FieldIssue(
                    f"{at}/default_{kind}",
                    f"a claim cannot read the default {kind} {default!r} of {coverage.code}: "
                    "give it an amount or an entry in the claims terms",
                )
            )
    return issues


def check_claims(
    defn: ProductVersionDefinition, variables: dict[str, Variable]
) -> list[FieldIssue]:
    """The claims section: causes name coverages of the product, and every coverage a claim
    may be paid under says how its limit and deductible read (an option's amount, an entry
    in the terms, a rating variable, or the property's valuation)."""
    claims = defn.claims
    if claims is None:
        return []
    issues: list[FieldIssue] = []
    coverages = {c.code: c for c in defn.coverages}
    coverage_at = {c.code: f"#/coverages/{i}" for i, c in enumerate(defn.coverages)}
    codes = [c.code for c in claims.causes_of_loss]
    if len(set(codes)) != len(codes):
        issues.append(FieldIssue("#/claims/causes_of_loss", "cause codes must be unique"))
    for i, cause in enumerate(claims.causes_of_loss):
        for j, code in enumerate(cause.coverages):
            if code not in coverages:
                at = f"#/claims/causes_of_loss/{i}/coverages/{j}"
                issues.append(FieldIssue(at, f"unknown coverage {code!r}"))
    paid_under = (c for cause in claims.causes_of_loss for c in cause.coverages)
    for code in dict.fromkeys([*paid_under, *claims.coverage_terms]):
        coverage = coverages.get(code)
        if coverage is None:
            if code in claims.coverage_terms:
                at = f"#/claims/coverage_terms/{code}"
                issues.append(FieldIssue(at, f"unknown coverage {code!r}"))
            continue
        terms = claims.coverage_terms.get(code)
        at = f"#/claims/coverage_terms/{code}"
        basis = terms.limit_basis if terms else "option"
        limits = terms.limits if terms else {}
        deductibles = terms.deductibles if terms else {}
        for kind, entries, options in (
            ("limits", limits, coverage.limits),
            ("deductibles", deductibles, coverage.deductibles),
        ):
            known = {o.code: o.amount for o in options}
            for key, amount in entries.items():
                where = f"{at}/{kind}/{_escape(key)}"
                if key not in known:
                    issues.append(FieldIssue(where, f"{key!r} is not an option of {code}"))
                issues += _check_amount(amount, variables, coverage.unit, where)
            unread = [k for k, v in known.items() if v is None and k not in entries]
            if unread and (kind == "deductibles" or basis == "option"):
                issues.append(
                    FieldIssue(
                        f"{at}/{kind}",
                        f"no amount for {', '.join(unread)}: say how a claim reads them",
                    )
                )
        issues += _defaults_read(coverage, basis, limits, deductibles, coverage_at[code])
        if basis == "option" and not coverage.limits:
            issues.append(
                FieldIssue(
                    f"{at}/limit_basis",
                    f"{code} has no limit options: its limit is a variable or the valuation",
                )
            )
        if basis == "variable":
            if terms is None or terms.limit_variable is None:
                issues.append(FieldIssue(f"{at}/limit_variable", "a variable basis names one"))
            else:
                issues += _numeric_ref(
                    terms.limit_variable, variables, coverage.unit, f"{at}/limit_variable"
                )
    return issues
