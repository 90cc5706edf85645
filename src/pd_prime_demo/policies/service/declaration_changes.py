"""What a transaction changed versus the state in force before it, in the words a
declarations page prints: coverages added, removed or changed (their human limits and
deductibles), vehicles and drivers added or removed, risk facts and the premium. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pd_prime_demo.policies.service import declaration_facts as f
from pd_prime_demo.policies.service.declarations import (
    deductible_label,
    limit_label,
    priced,
    words,
)
from pd_prime_demo.policies.state import PolicyState
from pd_prime_demo.rating.definition import ProductVersionDefinition

_LABELS = {"driver": "Driver", "vehicle": "Vehicle"}


def _terms(defn: ProductVersionDefinition, state: PolicyState, code: str) -> str:
    cov = next(c for c in defn.coverages if c.code == code)
    chosen = state.coverages.get(code, {})
    limit = limit_label(defn, cov, chosen.get("limit") or cov.default_limit, state.risk)
    deductible = deductible_label(
        cov, chosen.get("deductible") or cov.default_deductible, state.risk
    )
    parts = [f"limit {limit}" if limit else "", f"deductible {deductible}" if deductible else ""]
    return ", ".join(p for p in parts if p) or "included"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return words(str(value)) if isinstance(value, str) and "_" in value else str(value)


def _record_changes(
    label: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[f.Change]:
    return [
        f.Change(
            item=f"{label}: {words(name)}",
            before=_value(before[name]) if name in before else "",
            after=_value(after[name]) if name in after else "",
        )
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]


def _describe(unit: str, record: Mapping[str, Any], number: int) -> str:
    if unit == "driver":
        return str(record.get("name") or f"Driver {number}")
    facts = [record.get("model_year"), record.get("make"), record.get("model")]
    text = " ".join(str(x) for x in facts if x is not None)
    vin = record.get("vin")
    return f"{text} (VIN {vin})" if vin else text


def _unit_changes(unit: str, before: list[Any], after: list[Any]) -> list[f.Change]:
    changes: list[f.Change] = []
    label = _LABELS[unit]
    for i in range(max(len(before), len(after))):
        number = i + 1
        if i >= len(before):
            changes.append(
                f.Change(
                    item=f"{label} {number} added",
                    before="",
                    after=_describe(unit, after[i], number),
                )
            )
        elif i >= len(after):
            changes.append(
                f.Change(
                    item=f"{label} {number} removed",
                    before=_describe(unit, before[i], number),
                    after="",
                )
            )
        else:
            changes += _record_changes(f"{label} {number}", before[i], after[i])
    return changes


def changes(
    defn: ProductVersionDefinition, before: PolicyState, after: PolicyState
) -> list[f.Change]:
    """Every difference a reader of the page would care about, in the page's words."""
    found: list[f.Change] = []
    if before.status != after.status:
        found.append(
            f.Change(item="Status", before=words(before.status), after=words(after.status))
        )
    if (before.term_start, before.term_end) != (after.term_start, after.term_end):
        found.append(
            f.Change(
                item="Policy period",
                before=f"{before.term_start} to {before.term_end}",
                after=f"{after.term_start} to {after.term_end}",
            )
        )
    if before.rate_version != after.rate_version:
        found.append(
            f.Change(item="Rate version", before=before.rate_version, after=after.rate_version)
        )
    known = {c.code: c for c in defn.coverages}
    for code in [c.code for c in defn.coverages]:
        had, has = code in before.coverages, code in after.coverages
        name = known[code].name
        if has and not had:
            found.append(f.Change(item=f"{name} added", before="", after=_terms(defn, after, code)))
        elif had and not has:
            found.append(
                f.Change(item=f"{name} removed", before=_terms(defn, before, code), after="")
            )
        elif had and (old := _terms(defn, before, code)) != (new := _terms(defn, after, code)):
            found.append(f.Change(item=name, before=old, after=new))
    found += _record_changes(
        "Policy", before.risk.get("policy") or {}, after.risk.get("policy") or {}
    )
    found += _unit_changes(
        "driver", before.risk.get("drivers") or [], after.risk.get("drivers") or []
    )
    found += _unit_changes(
        "vehicle", before.risk.get("vehicles") or [], after.risk.get("vehicles") or []
    )
    if before.surcharge != after.surcharge:
        found.append(
            f.Change(
                item="Underwriting surcharge",
                before=f"x{before.surcharge}" if before.surcharge is not None else "none",
                after=f"x{after.surcharge}" if after.surcharge is not None else "none",
            )
        )
    if before.term_premium != after.term_premium:
        found.append(
            f.Change(
                item="Term premium",
                before=priced(before.term_premium),
                after=priced(after.term_premium),
            )
        )
    return found
