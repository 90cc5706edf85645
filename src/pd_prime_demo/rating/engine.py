"""The rating engine: pure, deterministic, Decimal throughout, and explainable.

A product version is compiled once into closures (table lookups become dicts and bisect
arrays), then rates any number of risks. Every rating can return a worksheet: for each coverage
and unit, each step's name, the table and key used, the factor and the running amount, so that
a person can recompute the premium by hand.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    localcontext,
)
from typing import Any

from pd_prime_demo.rating.definition import (
    AddStep,
    Band,
    BandTable,
    BaseStep,
    Condition,
    DiscountStep,
    ExactTable,
    FeeStep,
    InterpolatedTable,
    MinimumStep,
    MultiplyStep,
    ProductVersionDefinition,
    RoundingMode,
    RoundStep,
    TaxStep,
)

Value = str | int | Decimal | bool

# Exact arithmetic: products of factors never lose digits before the declared rounding.
RATING_CONTEXT = Context(prec=60, rounding=ROUND_HALF_UP)

ROUNDING = {
    RoundingMode.HALF_UP: ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: ROUND_HALF_EVEN,
    RoundingMode.UP: ROUND_UP,
    RoundingMode.DOWN: ROUND_DOWN,
    RoundingMode.CEILING: ROUND_CEILING,
    RoundingMode.FLOOR: ROUND_FLOOR,
}
ONE = Decimal(1)
ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Selection:
    limit: str | None = None
    deductible: str | None = None


@dataclass(frozen=True, slots=True)
class RatingInput:
    policy: Mapping[str, Value]
    drivers: Sequence[Mapping[str, Value]] = ()
    vehicles: Sequence[Mapping[str, Value]] = ()
    coverages: Mapping[str, Selection] = field(default_factory=dict)
    surcharge: Decimal | None = None


@dataclass(frozen=True, slots=True)
class WorksheetLine:
    coverage: str | None
    unit: str | None
    step: str
    op: str
    table: str | None
    key: str | None
    factor: Decimal | None
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Charge:
    name: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RatingResult:
    coverage_premiums: dict[str, Decimal]
    premium: Decimal
    fees: tuple[Charge, ...]
    taxes: tuple[Charge, ...]
    total: Decimal
    worksheet: tuple[WorksheetLine, ...]


class _Ctx:
    __slots__ = ("deductible", "driver", "limit", "policy", "vehicle")

    def __init__(self, policy: Mapping[str, Value]) -> None:
        self.policy = policy
        self.driver: Mapping[str, Value] = {}
        self.vehicle: Mapping[str, Value] = {}
        self.limit: str | None = None
        self.deductible: str | None = None


Getter = Callable[[_Ctx], Any]


def _getter_source(ref: str) -> str:
    """The Python expression reading ``ref`` from a context ``c`` (names quoted by repr)."""
    if ref == "coverage.limit":
        return "c.limit"
    if ref == "coverage.deductible":
        return "c.deductible"
    scope, name = ref.split(".", 1)
    record = scope if scope in ("policy", "driver") else "vehicle"
    return f"c.{record}[{name!r}]"


def _getter(ref: str) -> Getter:
    return _read(_getter_source(ref))


def _read(source: str) -> Getter:
    """A context reader compiled from an expression of :func:`_getter_source`, so the worksheet
    path and the generated amount-only path read a variable by one definition."""
    reader: Getter = eval(f"lambda c: {source}", {})  # noqa: S307 - only repr-quoted names
    return reader


def _key_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# A compiled lookup returns (value, key as shown on the worksheet).
Lookup = Callable[[_Ctx], tuple[Decimal, str]]

# Lookups are pure functions of their key, so each table remembers its answers. Keys come from
# bounded domains (enums, integers in a range); the cap only guards decimal-valued keys.
_MEMO_LIMIT = 10_000


class _Memo:
    """A table lookup that remembers its answers: ``lookup`` for the explained steps, and
    ``key_source``, ``memo`` and ``fill`` for the generated amount-only path."""

    __slots__ = ("fill", "key_source", "lookup", "memo")

    def __init__(
        self,
        key_of: Callable[[_Ctx], Any],
        key_source: str,
        resolve: Callable[[Any], tuple[Decimal, str]],
    ) -> None:
        memo: dict[Any, tuple[Decimal, str]] = {}

        def fill(raw: Any) -> tuple[Decimal, str]:
            hit = resolve(raw)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()  # in place: the generated code holds this dict
            memo[raw] = hit
            return hit

        def lookup(c: _Ctx) -> tuple[Decimal, str]:
            raw = key_of(c)
            hit = memo.get(raw)
            return fill(raw) if hit is None else hit

        self.key_source, self.memo, self.fill = key_source, memo, fill
        self.lookup: Lookup = lookup


def sorted_bands(table: BandTable) -> list[Band]:
    """A key falls in the last band whose minimum is at or below it (the first band if none is:
    validation makes the bands cover the variable's range)."""
    return sorted(table.bands, key=lambda b: b.min)


def table_resolver(
    table: ExactTable | BandTable | InterpolatedTable,
) -> Callable[[Any], tuple[Decimal, str]]:
    """The pure function from a raw key (a tuple for multi-key exact tables) to its value."""
    if isinstance(table, ExactTable):
        rows = {tuple(r.key): r.value for r in table.rows}
        if len(table.keys) == 1:
            flat = {k[0]: v for k, v in rows.items()}

            def exact1(raw: Any) -> tuple[Decimal, str]:
                key = _key_text(raw)
                return flat[key], key

            return exact1

        def exact(raw: Any) -> tuple[Decimal, str]:
            key = tuple(_key_text(v) for v in raw)
            return rows[key], "|".join(key)

        return exact
    if isinstance(table, BandTable):
        bands = sorted_bands(table)
        mins = [b.min for b in bands]

        def band(x: Any) -> tuple[Decimal, str]:
            chosen = bands[max(bisect.bisect_right(mins, x) - 1, 0)]
            upper = "" if chosen.max is None else str(chosen.max)
            return chosen.value, f"{x} in [{chosen.min}, {upper})"

        return band
    xs = [p.x for p in table.points]
    ys = [p.y for p in table.points]
    quantum = table.round_to

    def interpolate(raw: Any) -> tuple[Decimal, str]:
        x = Decimal(raw)
        i = min(max(bisect.bisect_right(xs, x) - 1, 0), len(xs) - 2)
        x0, x1, y0, y1 = xs[i], xs[i + 1], ys[i], ys[i + 1]
        with localcontext(RATING_CONTEXT):
            y = (y0 + (y1 - y0) * (x - x0) / (x1 - x0)).quantize(quantum, ROUND_HALF_UP)
        return y, f"{x} between {x0} and {x1}"

    return interpolate


def _compile_table(table: ExactTable | BandTable | InterpolatedTable) -> _Memo:
    resolve = table_resolver(table)
    if isinstance(table, ExactTable):
        if len(table.keys) == 1:
            source = _getter_source(table.keys[0])
        else:
            source = "(" + "".join(f"{_getter_source(k)}, " for k in table.keys) + ")"
        return _Memo(_read(source), source, resolve)
    source = _getter_source(table.key)
    return _Memo(_read(source), source, resolve)


Predicate = Callable[[_Ctx], bool]


def value_test(cond: Condition) -> Callable[[Any], bool]:
    """The condition as a test of the referenced value alone (shared with the bulk path)."""
    value = cond.value
    op = cond.op
    if op in ("in", "not_in"):
        allowed = frozenset(value if isinstance(value, list) else [str(value)])
        positive = op == "in"
        return lambda v: (_key_text(v) in allowed) is positive
    if isinstance(value, bool) or (isinstance(value, str) and op in ("eq", "ne")):
        target = _key_text(value)
        if op == "eq":
            return lambda v: _key_text(v) == target
        return lambda v: _key_text(v) != target
    number = Decimal(str(value))
    compare: dict[str, Callable[[Decimal], bool]] = {
        "eq": lambda x: x == number,
        "ne": lambda x: x != number,
        "lt": lambda x: x < number,
        "lte": lambda x: x <= number,
        "gt": lambda x: x > number,
        "gte": lambda x: x >= number,
    }
    check = compare[op]
    return lambda v: check(Decimal(v))


def _compile_condition(cond: Condition) -> Predicate:
    get = _getter(cond.ref)
    test = value_test(cond)
    return lambda c: test(get(c))


def _all(preds: list[Predicate]) -> Predicate:
    if not preds:
        return lambda c: True
    return lambda c: all(p(c) for p in preds)


# A compiled step: (ctx, running amount) -> (new amount, factor or None, key or None) or
# None when the step does not apply to this risk.
StepFn = Callable[[_Ctx, Decimal], tuple[Decimal, Decimal | None, str | None] | None]


@dataclass(frozen=True, slots=True)
class _Step:
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


def _compile_step(step: Any, tables: Mapping[str, Lookup]) -> _Step:
    if isinstance(step, BaseStep):
        if step.table is not None:
            lookup = tables[step.table]

            def base_table(c: _Ctx, _: Decimal) -> tuple[Decimal, Decimal | None, str | None]:
                value, key = lookup(c)
                return value, None, key

            return _Step(step.name, "base", step.table, base_table)
        start = step.amount or ZERO
        return _Step(step.name, "base", None, lambda c, _: (start, None, None))
    if isinstance(step, MultiplyStep | AddStep):
        conditions = [_compile_condition(x) for x in step.when]
        when = _all(conditions)
        multiply = isinstance(step, MultiplyStep)
        if step.table is not None:
            table_lookup = tables[step.table]
            get_value: Callable[[_Ctx], tuple[Decimal, str | None]] = table_lookup
        else:
            maybe = step.factor if isinstance(step, MultiplyStep) else step.amount
            assert maybe is not None
            constant_hit: tuple[Decimal, str | None] = (maybe, None)
            get_value = lambda c: constant_hit  # noqa: E731

        def explained(
            c: _Ctx, amount: Decimal
        ) -> tuple[Decimal, Decimal | None, str | None] | None:
            if not when(c):
                return None
            value, key = get_value(c)
            return (amount * value if multiply else amount + value), value, key

        return _Step(step.name, step.op, step.table, explained)
    if isinstance(step, DiscountStep):
        predicates = [_all([_compile_condition(x) for x in d.when]) for d in step.items]
        outcome = discount_outcomes(step)

        def discounts(
            c: _Ctx, amount: Decimal
        ) -> tuple[Decimal, Decimal | None, str | None] | None:
            mask = tuple(p(c) for p in predicates)
            if not any(mask):
                return None
            factor, names = outcome(mask)
            return amount * factor, factor, names

        return _Step(step.name, "discounts", None, discounts)
    if isinstance(step, MinimumStep):
        minimum = step.amount
        return _Step(
            step.name,
            "minimum",
            None,
            lambda c, amount: (max(amount, minimum), minimum, None),
        )
    if isinstance(step, RoundStep):
        unit, mode = step.unit, ROUNDING[step.mode]
        label = f"{step.mode.value} to {step.unit}"
        return _Step(
            step.name,
            "round",
            None,
            lambda c, amount: (amount.quantize(unit, mode), None, label),
        )
    raise TypeError(f"not a coverage step: {step!r}")  # pragma: no cover


AmountFn = Callable[[_Ctx], Decimal]


def _amount_only(name: str, steps: Sequence[Any], tables: dict[str, _Memo]) -> AmountFn:
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
        tests = [f"{bind(value_test(x))}({_getter_source(x.ref)})" for x in conditions]
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


@dataclass(frozen=True, slots=True)
class _Coverage:
    code: str
    per_vehicle: bool
    steps: tuple[_Step, ...]
    amount: AmountFn  # the steps without explanations


class CompiledProduct:
    """A product version ready to rate. Build once (``compile_product``), rate many times."""

    def __init__(self, defn: ProductVersionDefinition) -> None:
        self.definition = defn
        memos = {name: _compile_table(t) for name, t in defn.tables.items()}
        tables = {name: memo.lookup for name, memo in memos.items()}
        self._coverages = {}
        for cov in defn.coverages:
            steps = tuple(_compile_step(s, tables) for s in defn.algorithm.coverages[cov.code])
            self._coverages[cov.code] = _Coverage(
                cov.code,
                cov.unit == "vehicle",
                steps,
                _amount_only(cov.code, defn.algorithm.coverages[cov.code], memos),
            )
        self.rules = [
            (rule, _all([_compile_condition(c) for c in rule.when]))
            for rule in defn.underwriting_rules
        ]
        self._policy_steps: list[tuple[Any, _Step | None]] = [
            (s, None if isinstance(s, FeeStep | TaxStep) else _compile_step(s, tables))
            for s in defn.algorithm.policy
        ]

    def rate(self, risk: RatingInput, *, explain: bool = True) -> RatingResult:
        with localcontext(RATING_CONTEXT):
            return self._rate(risk, explain)

    def _rate(self, risk: RatingInput, explain: bool) -> RatingResult:
        lines: list[WorksheetLine] = []
        ctx = _Ctx(risk.policy)
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
        cov: _Coverage, ctx: _Ctx, unit: str | None, lines: list[WorksheetLine], explain: bool
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
    ctx = _Ctx(risk.policy)
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
