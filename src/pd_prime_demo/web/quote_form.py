"""The guided quote form, generated from a product version's definition: a field per rating
variable (by its type, allowed values and range) and per descriptive schedule field, a
fieldset per driver or vehicle the product rates, and a column per coverage package. A new
product gets its form from its definition alone, with no template code.

Field names follow the quote request's body (``risk.drivers.0.age``), so a problem's JSON
Pointer (``#/risk/drivers/0/age``) lands on the field it is about. This module is pure: it
builds the form and reads a submitted one into the body ``quotes.service.create_quote``
validates; whether the values are acceptable is the service's (and rating's) to say.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from pd_prime_demo.rating.definition import (
    Coverage,
    ProductVersionDefinition,
    Scope,
    Variable,
    VariableType,
)
from pd_prime_demo.rating.documents_definition import ScheduleField
from pd_prime_demo.web.pages import label

Kind = Literal["select", "number", "checkbox", "text", "date"]
MAX_PACKAGES = 3  # QuoteCreate.options' own limit
PACKAGE_NAMES = ("basic", "full", "custom")  # the first: required coverages; the rest: all
NOT_INCLUDED = ""
INCLUDED = "included"  # a coverage with neither limits nor deductibles to choose from


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    kind: Kind
    value: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    minimum: str | None = None
    maximum: str | None = None
    step: str | None = None
    required: bool = False
    hint: str = ""
    error: str | None = None
    pattern: str | None = None
    max_length: int | None = None

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-").replace("_", "-")


@dataclass(frozen=True, slots=True)
class Group:
    """A fieldset: the policy's variables, or one driver's or vehicle's."""

    legend: str
    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """A coverage across the packages: one select per package (limit and/or deductible)."""

    code: str
    name: str
    required: bool
    cells: tuple[tuple[Field, ...], ...]


@dataclass(frozen=True, slots=True)
class QuoteForm:
    product_code: str
    product_name: str
    state: str
    version: str
    effective_on: Field
    groups: tuple[Group, ...]
    package_names: tuple[Field, ...]
    coverages: tuple[CoverageRow, ...]
    counts: dict[str, int] = field(default_factory=dict)


def unit_counts(defn: ProductVersionDefinition, asked: Mapping[str, str]) -> dict[str, int]:
    """How many drivers and vehicles the form shows: as asked, within the product's bounds."""
    counts: dict[str, int] = {}
    for unit, spec in defn.units.items():
        try:
            wanted = int(asked.get(f"{unit}s", spec.min_count))
        except ValueError:
            wanted = spec.min_count
        counts[unit] = min(max(wanted, max(spec.min_count, 1)), spec.max_count)
    return counts


def _hint(var: Variable) -> str:
    parts = [var.description] if var.description else []
    if var.minimum is not None and var.maximum is not None:
        parts.append(f"from {var.minimum} to {var.maximum}")
    elif var.minimum is not None:
        parts.append(f"at least {var.minimum}")
    elif var.maximum is not None:
        parts.append(f"at most {var.maximum}")
    return "; ".join(parts)


def variable_field(
    var: Variable, name: str, values: Mapping[str, str], errors: Mapping[str, str]
) -> Field:
    value = values.get(name, "")
    common: dict[str, Any] = {"name": name, "label": label(var.name), "error": errors.get(name)}
    if var.type is VariableType.ENUM:
        choices = tuple((v, label(v)) for v in var.values or [])
        return Field(
            kind="select",
            value=value,
            choices=choices,
            required=True,
            hint=var.description,
            **common,
        )
    if var.type is VariableType.BOOLEAN:
        return Field(
            kind="checkbox", value="true" if value == "true" else "", hint=var.description, **common
        )
    return Field(
        kind="number",
        value=value,
        minimum=None if var.minimum is None else str(var.minimum),
        maximum=None if var.maximum is None else str(var.maximum),
        step="1" if var.type is VariableType.INTEGER else "any",
        required=True,
        hint=_hint(var),
        **common,
    )


def schedule_field(
    spec: ScheduleField, name: str, values: Mapping[str, str], errors: Mapping[str, str]
) -> Field:
    return Field(
        name=name,
        label=spec.label,
        kind="text",
        value=values.get(name, ""),
        required=spec.required,
        hint="" if spec.required else "optional; printed on the documents",
        error=errors.get(name),
        pattern=spec.pattern.removeprefix("^").removesuffix("$") if spec.pattern else None,
        max_length=spec.max_length,
    )


def _group(
    defn: ProductVersionDefinition,
    scope: Scope,
    prefix: str,
    legend: str,
    values: Mapping[str, str],
    errors: Mapping[str, str],
) -> Group:
    fields = [
        variable_field(v, f"{prefix}.{v.name}", values, errors)
        for v in defn.variables
        if v.scope is scope
    ]
    fields += [
        schedule_field(s, f"{prefix}.{s.name}", values, errors)
        for s in getattr(defn.schedule, scope.value)
    ]
    return Group(legend, tuple(fields))


def _coverage_cells(
    cov: Coverage, index: int, values: Mapping[str, str], errors: Mapping[str, str], full: bool
) -> tuple[Field, ...]:
    """One package's choice of a coverage. The first package starts with the required
    coverages at their defaults; the others with every coverage at its default."""
    out: list[Field] = []
    base = f"options.{index}.coverages.{cov.code}"
    none = () if cov.required else ((NOT_INCLUDED, "Not included"),)
    wants_default = cov.required or full
    for attr, options, default in (
        ("limit", cov.limits, cov.default_limit),
        ("deductible", cov.deductibles, cov.default_deductible),
    ):
        if not options:
            continue
        name = f"{base}.{attr}"
        value = values.get(name, (default or "") if wants_default else NOT_INCLUDED)
        out.append(
            Field(
                name=name,
                label=f"{cov.name}: {attr}, {PACKAGE_NAMES[index]} package",
                kind="select",
                value=value,
                choices=(*none, *((o.code, o.label) for o in options)),
                error=errors.get(name) or errors.get(base),
            )
        )
    if not out:
        name = f"{base}.included"
        value = values.get(name, INCLUDED if wants_default else NOT_INCLUDED)
        choices = (
            ((INCLUDED, "Included"),)
            if cov.required
            else ((NOT_INCLUDED, "Not included"), (INCLUDED, "Included"))
        )
        out.append(
            Field(
                name=name,
                label=f"{cov.name}, {PACKAGE_NAMES[index]} package",
                kind="select",
                value=value,
                choices=choices,
                error=errors.get(base),
            )
        )
    return tuple(out)


def build(
    defn: ProductVersionDefinition,
    *,
    effective_on: date,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    packages: int = 2,
    counts: dict[str, int] | None = None,
) -> QuoteForm:
    values, errors = values or {}, errors or {}
    counts = counts or unit_counts(defn, {})
    groups = [_group(defn, Scope.POLICY, "risk.policy", "About the policy", values, errors)]
    for unit in ("driver", "vehicle"):
        for i in range(counts.get(unit, 0)):
            scope = Scope(unit)
            groups.append(
                _group(defn, scope, f"risk.{unit}s.{i}", f"{label(unit)} {i + 1}", values, errors)
            )
    packages = min(max(packages, 1), MAX_PACKAGES)
    names = tuple(
        Field(
            name=f"options.{i}.name",
            label=f"Name of package {i + 1}",
            kind="text",
            value=values.get(f"options.{i}.name", PACKAGE_NAMES[i]),
            required=True,
            max_length=50,
            error=errors.get(f"options.{i}.name"),
        )
        for i in range(packages)
    )
    rows = tuple(
        CoverageRow(
            cov.code,
            cov.name,
            cov.required,
            tuple(_coverage_cells(cov, i, values, errors, full=i > 0) for i in range(packages)),
        )
        for cov in defn.coverages
    )
    effective = Field(
        name="effective_on",
        label="Effective date",
        kind="date",
        value=values.get("effective_on", effective_on.isoformat()),
        required=True,
        error=errors.get("effective_on"),
    )
    return QuoteForm(
        defn.product_code,
        defn.product_name,
        defn.state,
        defn.version,
        effective,
        tuple(groups),
        names,
        rows,
        counts,
    )


def _typed(var: Variable, raw: str | None) -> Any:
    """A submitted string as the variable's JSON type; what does not read is passed on as
    given, for rating to refuse at its pointer with its own words."""
    if var.type is VariableType.BOOLEAN:
        return raw == "true"
    if raw is None:
        return None
    if var.type is VariableType.INTEGER:
        try:
            return int(raw.strip())
        except ValueError:
            return raw
    return raw.strip()


def _record(
    defn: ProductVersionDefinition, scope: Scope, prefix: str, form: Mapping[str, str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for var in defn.variables:
        if var.scope is not scope:
            continue
        value = _typed(var, form.get(f"{prefix}.{var.name}"))
        if value is not None and value != "":
            out[var.name] = value
    for spec in getattr(defn.schedule, scope.value):
        text = form.get(f"{prefix}.{spec.name}", "").strip()
        if text:
            out[spec.name] = text
    return out


def read(
    defn: ProductVersionDefinition, form: Mapping[str, str], counts: dict[str, int], packages: int
) -> dict[str, Any]:
    """The quote request body (without customer_id) a submitted form describes."""
    risk: dict[str, Any] = {"policy": _record(defn, Scope.POLICY, "risk.policy", form)}
    for unit in ("driver", "vehicle"):
        if unit in counts:
            risk[f"{unit}s"] = [
                _record(defn, Scope(unit), f"risk.{unit}s.{i}", form) for i in range(counts[unit])
            ]
    options = []
    for i in range(min(max(packages, 1), MAX_PACKAGES)):
        chosen: dict[str, dict[str, str]] = {}
        for cov in defn.coverages:
            base = f"options.{i}.coverages.{cov.code}"
            choice = {
                attr: form[f"{base}.{attr}"]
                for attr in ("limit", "deductible")
                if form.get(f"{base}.{attr}")
            }
            if choice or form.get(f"{base}.included") == INCLUDED:
                chosen[cov.code] = choice
        options.append(
            {"name": form.get(f"options.{i}.name", PACKAGE_NAMES[i]).strip(), "coverages": chosen}
        )
    return {
        "product_code": defn.product_code,
        "state": defn.state,
        "effective_on": form.get("effective_on", ""),
        "risk": risk,
        "options": options,
    }
