"""The rating engine: pure, deterministic, Decimal throughout, and explainable.

A product version is compiled once into closures (table lookups become dicts and bisect
arrays), then rates any number of risks. Every rating can return a worksheet: for each coverage
and unit, each step's name, the table and key used, the factor and the running amount, so that
a person can recompute the premium by hand. This module is the entry point (compiling a
product, rating, underwriting); what a rating takes and gives lives in
:mod:`~pd_prime_demo.rating.values`, how variables, tables and conditions are read in
:mod:`~pd_prime_demo.rating.lookups`, and the compiled steps in
:mod:`~pd_prime_demo.rating.steps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from pd_prime_demo.rating.definition import FeeStep, ProductVersionDefinition, TaxStep
from pd_prime_demo.rating.lookups import Ctx, all_of, compile_condition, compile_table
from pd_prime_demo.rating.steps import AmountFn, CompiledStep, amount_only, compile_step
from pd_prime_demo.rating.values import (
    CENT,
    RATING_CONTEXT,
    ROUNDING,
    ZERO,
    Charge,
    RatingInput,
    RatingResult,
    Selection,
    Value,
    WorksheetLine,
)

# What a rating takes and gives is part of the engine's interface: callers import it from here.
__all__ = [
    "CompiledProduct",
    "RatingInput",
    "RatingResult",
    "RuleHit",
    "Selection",
    "Value",
    "compile_product",
    "underwrite",
]


@dataclass(frozen=True, slots=True)
class _Coverage:
    code: str
    per_vehicle: bool
    steps: tuple[CompiledStep, ...]
    amount: AmountFn  # the steps without explanations


class CompiledProduct:
    """A product version ready to rate. Build once (``compile_product``), rate many times."""

    def __init__(self, defn: ProductVersionDefinition) -> None:
        self.definition = defn
        memos = {name: compile_table(t) for name, t in defn.tables.items()}
        tables = {name: memo.lookup for name, memo in memos.items()}
        self._coverages = {}
        for cov in defn.coverages:
            steps = tuple(compile_step(s, tables) for s in defn.algorithm.coverages[cov.code])
            self._coverages[cov.code] = _Coverage(
                cov.code,
                cov.unit == "vehicle",
                steps,
                amount_only(cov.code, defn.algorithm.coverages[cov.code], memos),
            )
        self.rules = [
            (rule, all_of([compile_condition(c) for c in rule.when]))
            for rule in defn.underwriting_rules
        ]
        self._policy_steps: list[tuple[Any, CompiledStep | None]] = [
            (s, None if isinstance(s, FeeStep | TaxStep) else compile_step(s, tables))
            for s in defn.algorithm.policy
        ]

    def rate(self, risk: RatingInput, *, explain: bool = True) -> RatingResult:
        with localcontext(RATING_CONTEXT):
            return self._rate(risk, explain)

    def _rate(self, risk: RatingInput, explain: bool) -> RatingResult:
        lines: list[WorksheetLine] = []
        ctx = Ctx(risk.policy)
        premiums: dict[str, Decimal] = {}
        drivers = risk.drivers
        for code, selection in risk.coverages.items():
            cov = self._coverages[code]
            ctx.limit, ctx.deductible = selection.limit, selection.deductible
            total = ZERO
            if cov.per_vehicle:
                for i, vehicle in enumerate(risk.vehicles):
                    ctx.vehicle = vehicle
                    ctx.driver = drivers[int(vehicle.get("driver", 0))] if drivers else {}
                    total += self._run(cov, ctx, f"vehicle[{i}]", lines, explain)
            else:
                total = self._run(cov, ctx, None, lines, explain)
            premiums[code] = total
        premium = sum(premiums.values(), ZERO)
        if explain:
            lines.append(
                WorksheetLine(
                    None, None, "sum of coverage premiums", "sum", None, None, None, premium
                )
            )
        if risk.surcharge is not None:
            premium = (premium * risk.surcharge).quantize(CENT, ROUND_HALF_UP)
            if explain:
                lines.append(
                    WorksheetLine(
                        None,
                        None,
                        "underwriting surcharge",
                        "multiply",
                        None,
                        "half_up to 0.01",
                        risk.surcharge,
                        premium,
                    )
                )
        fees: list[Charge] = []
        taxes: list[Charge] = []
        ctx.limit = ctx.deductible = None
        for spec, step in self._policy_steps:
            if isinstance(spec, FeeStep):
                fees.append(Charge(spec.name, spec.amount))
                if explain:
                    lines.append(
                        WorksheetLine(None, None, spec.name, "fee", None, None, None, spec.amount)
                    )
                continue
            if isinstance(spec, TaxStep):
                base = premium + (
                    sum((f.amount for f in fees), ZERO) if spec.base == "premium_and_fees" else ZERO
                )
                tax = (base * spec.rate).quantize(spec.unit, ROUNDING[spec.mode])
                taxes.append(Charge(spec.name, tax))
                if explain:
                    lines.append(
                        WorksheetLine(
                            None,
                            None,
                            spec.name,
                            "tax",
                            None,
                            f"{spec.rate} x {base}",
                            spec.rate,
                            tax,
                        )
                    )
                continue
            assert step is not None
            outcome = step.run(ctx, premium)
            if outcome is None:
                continue
            premium, factor, key = outcome
            if explain:
                lines.append(
                    WorksheetLine(None, None, step.name, step.op, step.table, key, factor, premium)
                )
        total_due = (
            premium + sum((f.amount for f in fees), ZERO) + sum((t.amount for t in taxes), ZERO)
        )
        return RatingResult(premiums, premium, tuple(fees), tuple(taxes), total_due, tuple(lines))

    @staticmethod
    def _run(
        cov: _Coverage, ctx: Ctx, unit: str | None, lines: list[WorksheetLine], explain: bool
    ) -> Decimal:
        amount = ZERO
        if not explain:
            return cov.amount(ctx)
        for step in cov.steps:
            outcome = step.run(ctx, amount)
            if outcome is None:
                continue
            amount, factor, key = outcome
            if explain:
                lines.append(
                    WorksheetLine(
                        cov.code, unit, step.name, step.op, step.table, key, factor, amount
                    )
                )
        return amount


def compile_product(defn: ProductVersionDefinition) -> CompiledProduct:
    return CompiledProduct(defn)


@dataclass(frozen=True, slots=True)
class RuleHit:
    code: str
    action: str
    reason: str
    authority: int
    where: str


def underwrite(product: CompiledProduct, risk: RatingInput) -> list[RuleHit]:
    """Every underwriting rule that fires, with where it fired (policy, driver[i], vehicle[i])."""
    hits: list[RuleHit] = []
    ctx = Ctx(risk.policy)
    for rule, predicate in product.rules:
        if rule.scope.value == "policy":
            targets: list[tuple[str, Mapping[str, Value], Mapping[str, Value]]] = [
                ("policy", {}, {})
            ]
        elif rule.scope.value == "driver":
            targets = [(f"driver[{i}]", d, {}) for i, d in enumerate(risk.drivers)]
        else:
            targets = [
                (f"vehicle[{i}]", risk.drivers[int(v.get("driver", 0))] if risk.drivers else {}, v)
                for i, v in enumerate(risk.vehicles)
            ]
        for where, driver, vehicle in targets:
            ctx.driver, ctx.vehicle = driver, vehicle
            if predicate(ctx):
                hits.append(RuleHit(rule.code, rule.action, rule.reason, rule.authority, where))
    return hits
