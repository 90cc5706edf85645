"""A product's algorithm steps, compiled two ways that must agree to the cent.

:func:`compile_step` turns each step into a closure that also reports its factor and key, for
the worksheet; :func:`amount_only` turns one coverage's whole step list into a single generated
function that computes the amount alone, for quotes, binds, endorsements and single re-rating,
where a call per step would dominate. Both take their tables and conditions from
:mod:`~pd_prime_demo.rating.lookups` and their discount combinations from
:func:`discount_outcomes` (shared with the bulk path), so the arithmetic has one definition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

from pd_prime_demo.rating.definition import (
    AddStep,
    BaseStep,
    Condition,
    DiscountStep,
    MinimumStep,
    MultiplyStep,
    RoundStep,
)
from pd_prime_demo.rating.lookups import (
    Ctx,
    Lookup,
    Memo,
    all_of,
    compile_condition,
    getter_source,
    value_test,
)
from pd_prime_demo.rating.values import ONE, RATING_CONTEXT, ROUNDING, ZERO

# A compiled step: (ctx, running amount) -> (new amount, factor or None, key or None) or
# None when the step does not apply to this risk.
StepFn = Callable[[Ctx, Decimal], tuple[Decimal, Decimal | None, str | None] | None]


@dataclass(frozen=True, slots=True)
class CompiledStep:
    name: str
    op: str
    table: str | None
    run: StepFn


def discount_outcomes(step: DiscountStep) -> Callable[[tuple[bool, ...]], tuple[Decimal, str]]:
    """The combined (and capped) factor for each set of applicable discounts, memoised."""
    floor = ONE - step.max_discount if step.max_discount is not None else ZERO
    additive = step.combine == "additive"
    memo: dict[tuple[bool, ...], tuple[Decimal, str]] = {}

    def outcome(mask: tuple[bool, ...]) -> tuple[Decimal, str]:
        hit = memo.get(mask)
        if hit is None:
            applied = [d for d, on in zip(step.items, mask, strict=True) if on]
            combined = ONE
            with localcontext(RATING_CONTEXT):
                if additive:
                    combined = ONE - sum((ONE - d.factor for d in applied), ZERO)
                else:
                    for d in applied:
                        combined *= d.factor
            capped = max(combined, floor)
            names = ", ".join(d.name for d in applied) + (" (capped)" if capped != combined else "")
            hit = memo[mask] = (capped, names)
        return hit

    return outcome


def compile_step(step: Any, tables: Mapping[str, Lookup]) -> CompiledStep:
    if isinstance(step, BaseStep):
        if step.table is not None:
            lookup = tables[step.table]

            def base_table(c: Ctx, _: Decimal) -> tuple[Decimal, Decimal | None, str | None]:
                value, key = lookup(c)
                return value, None, key

            return CompiledStep(step.name, "base", step.table, base_table)
        start = step.amount or ZERO
        return CompiledStep(step.name, "base", None, lambda c, _: (start, None, None))
    if isinstance(step, MultiplyStep | AddStep):
        conditions = [compile_condition(x) for x in step.when]
        when = all_of(conditions)
        multiply = isinstance(step, MultiplyStep)
        if step.table is not None:
            table_lookup = tables[step.table]
            get_value: Callable[[Ctx], tuple[Decimal, str | None]] = table_lookup
        else:
            maybe = step.factor if isinstance(step, MultiplyStep) else step.amount
            assert maybe is not None
            constant_hit: tuple[Decimal, str | None] = (maybe, None)
            get_value = lambda c: constant_hit  # noqa: E731

        def explained(c: Ctx, amount: Decimal) -> tuple[Decimal, Decimal | None, str | None] | None:
            if not when(c):
                return None
            value, key = get_value(c)
            return (amount * value if multiply else amount + value), value, key

        return CompiledStep(step.name, step.op, step.table, explained)
    if isinstance(step, DiscountStep):
        predicates = [all_of([compile_condition(x) for x in d.when]) for d in step.items]
        outcome = discount_outcomes(step)

        def discounts(c: Ctx, amount: Decimal) -> tuple[Decimal, Decimal | None, str | None] | None:
            mask = tuple(p(c) for p in predicates)
            if not any(mask):
                return None
            factor, names = outcome(mask)
            return amount * factor, factor, names

        return CompiledStep(step.name, "discounts", None, discounts)
    if isinstance(step, MinimumStep):
        minimum = step.amount
        return CompiledStep(
            step.name,
            "minimum",
            None,
            lambda c, amount: (max(amount, minimum), minimum, None),
        )
    if isinstance(step, RoundStep):
        unit, mode = step.unit, ROUNDING[step.mode]
        label = f"{step.mode.value} to {step.unit}"
        return CompiledStep(
            step.name,
            "round",
            None,
            lambda c, amount: (amount.quantize(unit, mode), None, label),
        )
    raise TypeError(f"not a coverage step: {step!r}")  # pragma: no cover


AmountFn = Callable[[Ctx], Decimal]


def amount_only(name: str, steps: Sequence[Any], tables: dict[str, Memo]) -> AmountFn:
    """One coverage's steps as a single generated function of the context: the amount alone.

    The same arithmetic as the explained steps (tests compare them for every step type and on
    books of every shipped product), without a call per step: quotes, binds, endorsements and
    the single re-rating path run this; worksheets run the steps. Only variable names reach the
    source, quoted by ``repr``; tables, tests and constants are bound by name.
    """
    env: dict[str, Any] = {"ZERO": ZERO, "max": max, "any": any}
    lines = ["def amount(c):", "    a = ZERO"]

    def bind(value: Any) -> str:
        key = f"_{len(env)}"
        env[key] = value
        return key

    def lookup(table: str, indent: str) -> str:
        memo = tables[table]
        memo_name, fill = bind(memo.memo), bind(memo.fill)
        lines.append(f"{indent}k = {memo.key_source}")
        lines.append(f"{indent}h = {memo_name}.get(k)")
        lines.append(f"{indent}if h is None:")
        lines.append(f"{indent}    h = {fill}(k)")
        return "h[0]"

    def condition(conditions: Sequence[Condition]) -> str:
        tests = [f"{bind(value_test(x))}({getter_source(x.ref)})" for x in conditions]
        return " and ".join(tests) if tests else "True"

    for step in steps:
        if isinstance(step, BaseStep):
            if step.table is not None:
                lines.append(f"    a = {lookup(step.table, '    ')}")
            else:
                lines.append(f"    a = {bind(step.amount or ZERO)}")
        elif isinstance(step, MultiplyStep | AddStep):
            indent = "    "
            if step.when:
                lines.append(f"    if {condition(step.when)}:")
                indent = "        "
            if step.table is not None:
                value = lookup(step.table, indent)
            else:
                value = bind(step.factor if isinstance(step, MultiplyStep) else step.amount)
            operator = "*" if isinstance(step, MultiplyStep) else "+"
            lines.append(f"{indent}a = a {operator} {value}")
        elif isinstance(step, DiscountStep):
            mask = "".join(f"{condition(d.when)}, " for d in step.items)
            lines.append(f"    mask = ({mask})")
            lines.append("    if any(mask):")
            lines.append(f"        a = a * {bind(discount_outcomes(step))}(mask)[0]")
        elif isinstance(step, MinimumStep):
            lines.append(f"    a = max(a, {bind(step.amount)})")
        elif isinstance(step, RoundStep):
            lines.append(f"    a = a.quantize({bind(step.unit)}, {bind(ROUNDING[step.mode])})")
        else:  # pragma: no cover - the definition's types are closed
            raise TypeError(f"not a coverage step: {step!r}")
    lines.append("    return a")
    code = compile("\n".join(lines), f"<rating {name}>", "exec")
    exec(code, env)  # noqa: S102 - generated from validated steps; see the docstring
    function: AmountFn = env["amount"]
    return function
