"""Turn a quote's risk data and coverage choices into rating inputs, or say exactly what is
wrong with each field (JSON Pointers relative to the request body)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from pd_prime_demo.core.result_types import FieldIssue
from pd_prime_demo.rating.definition import (
    ProductVersionDefinition,
    ScheduleField,
    Variable,
    VariableType,
)
from pd_prime_demo.rating.engine import RatingInput, Selection, Value


def _coerce(var: Variable, raw: Any, at: str) -> tuple[Value | None, FieldIssue | None]:
    if var.type is VariableType.BOOLEAN:
        if isinstance(raw, bool):
            return raw, None
        return None, FieldIssue(at, "must be true or false")
    if var.type is VariableType.ENUM:
        if isinstance(raw, str) and raw in (var.values or []):
            return raw, None
        return None, FieldIssue(at, f"must be one of {var.values}")
    if isinstance(raw, bool):
        return None, FieldIssue(at, "must be a number")
    value: int | Decimal
    if var.type is VariableType.INTEGER:
        if not isinstance(raw, int):
            return None, FieldIssue(at, "must be a whole number")
        value = raw
    else:
        try:
            value = Decimal(str(raw)) if isinstance(raw, int | float | str) else Decimal("nan")
        except InvalidOperation:
            value = Decimal("nan")
        if not value.is_finite():
            return None, FieldIssue(at, "must be a number")
    if var.minimum is not None and value < var.minimum:
        return None, FieldIssue(at, f"must be at least {var.minimum}")
    if var.maximum is not None and value > var.maximum:
        return None, FieldIssue(at, f"must be at most {var.maximum}")
    return value, None


def _schedule_issue(spec: ScheduleField, raw: Any, at: str) -> FieldIssue | None:
    """A descriptive field (a VIN, a driver's name) is text the documents print; it is checked
    here with the risk so a bad one is refused at its pointer, and never reaches rating."""
    if not isinstance(raw, str):
        return FieldIssue(at, "must be a string")
    if not raw.strip():
        return FieldIssue(at, "must not be blank")
    if len(raw) > spec.max_length:
        return FieldIssue(at, f"must be at most {spec.max_length} characters")
    if spec.pattern is not None and re.fullmatch(spec.pattern, raw) is None:
        return FieldIssue(at, f"must match {spec.pattern}")
    return None


def _record(
    raw: Any,
    variables: list[Variable],
    at: str,
    issues: list[FieldIssue],
    schedule: Sequence[ScheduleField] = (),
) -> dict[str, Value]:
    if not isinstance(raw, Mapping):
        issues.append(FieldIssue(at, "must be an object"))
        return {}
    known = {v.name: v for v in variables}
    described = {f.name: f for f in schedule}
    for name in raw:
        if name in described:
            if (issue := _schedule_issue(described[name], raw[name], f"{at}/{name}")) is not None:
                issues.append(issue)
        elif name not in known:
            issues.append(FieldIssue(f"{at}/{name}", "not a rating variable of this product"))
    for spec in schedule:
        if spec.required and spec.name not in raw:
            issues.append(FieldIssue(f"{at}/{spec.name}", "required"))
    out: dict[str, Value] = {}
    for var in variables:
        if var.name not in raw:
            issues.append(FieldIssue(f"{at}/{var.name}", "required"))
            continue
        value, issue = _coerce(var, raw[var.name], f"{at}/{var.name}")
        if issue is not None:
            issues.append(issue)
        elif value is not None:
            out[var.name] = value
    return out


def build_risk(
    defn: ProductVersionDefinition, risk: Mapping[str, Any], at: str = "#/risk"
) -> tuple[RatingInput, list[FieldIssue]]:
    """The rating input of ``risk``; its schedule fields (descriptive, never rated) are checked
    and left out of it."""
    issues: list[FieldIssue] = []
    by_scope: dict[str, list[Variable]] = {"policy": [], "driver": [], "vehicle": []}
    for var in defn.variables:
        by_scope[var.scope.value].append(var)
    schedule = defn.schedule
    policy = _record(
        risk.get("policy", {}), by_scope["policy"], f"{at}/policy", issues, schedule.policy
    )
    units: dict[str, list[dict[str, Value]]] = {}
    for unit, key in (("driver", "drivers"), ("vehicle", "vehicles")):
        raw_list = risk.get(key, [])
        spec = defn.units.get(unit)  # type: ignore[call-overload]
        if spec is None:
            if raw_list:
                issues.append(FieldIssue(f"{at}/{key}", f"this product rates no {key}"))
            units[key] = []
            continue
        if not isinstance(raw_list, Sequence) or isinstance(raw_list, str):
            issues.append(FieldIssue(f"{at}/{key}", "must be a list"))
            units[key] = []
            continue
        if not spec.min_count <= len(raw_list) <= spec.max_count:
            issues.append(
                FieldIssue(f"{at}/{key}", f"needs {spec.min_count} to {spec.max_count} {key}")
            )
        units[key] = [
            _record(
                item,
                by_scope[unit],
                f"{at}/{key}/{i}",
                issues,
                schedule.driver if unit == "driver" else schedule.vehicle,
            )
            for i, item in enumerate(raw_list)
        ]
    for i, vehicle in enumerate(units["vehicles"]):
        driver = vehicle.get("driver")
        if isinstance(driver, int) and not 0 <= driver < len(units["drivers"]):
            issues.append(FieldIssue(f"{at}/vehicles/{i}/driver", "no driver at this index"))
    extra = set(risk) - {"policy", "drivers", "vehicles"}
    issues += [FieldIssue(f"{at}/{name}", "unknown section") for name in sorted(extra)]
    return RatingInput(policy, tuple(units["drivers"]), tuple(units["vehicles"])), issues


def build_selections(
    defn: ProductVersionDefinition, chosen: Mapping[str, Mapping[str, str | None]], at: str
) -> tuple[dict[str, Selection], list[FieldIssue]]:
    """Validate one package of coverage choices; omitted limits/deductibles take the default."""
    issues: list[FieldIssue] = []
    coverages = {c.code: c for c in defn.coverages}
    selections: dict[str, Selection] = {}
    for code, choice in chosen.items():
        cov = coverages.get(code)
        if cov is None:
            issues.append(FieldIssue(f"{at}/{code}", "not a coverage of this product"))
            continue
        picked: dict[str, str | None] = {}
        for attr, options, default in (
            ("limit", cov.limits, cov.default_limit),
            ("deductible", cov.deductibles, cov.default_deductible),
        ):
            value = choice.get(attr)
            codes = [o.code for o in options]
            if value is None:
                picked[attr] = default
            elif value not in codes:
                allowed = f"one of {codes}" if codes else "absent (no options)"
                issues.append(FieldIssue(f"{at}/{code}/{attr}", f"must be {allowed}"))
            else:
                picked[attr] = value
        selections[code] = Selection(picked.get("limit"), picked.get("deductible"))
    for cov in defn.coverages:
        if cov.required and cov.code not in chosen:
            issues.append(FieldIssue(f"{at}/{cov.code}", "this coverage is required"))
        if cov.code in chosen:
            for needed in cov.requires:
                if needed not in chosen:
                    issues.append(FieldIssue(f"{at}/{cov.code}", f"requires {needed}"))
    # Rate coverages in the product's order, so worksheets read the same way every time.
    order = [c.code for c in defn.coverages]
    return {c: selections[c] for c in order if c in selections}, issues
