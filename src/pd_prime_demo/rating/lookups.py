"""How compiled rating code reads a risk: variables, table lookups and conditions.

A :class:`Ctx` holds the records one step is rated against (the policy, the current driver and
vehicle, the coverage's limit and deductible). Each variable reference is turned into one
Python expression (:func:`getter_source`) that both the explained steps and the generated
amount-only code evaluate, so the two paths cannot read a variable differently. Tables become
pure resolvers (shared with the bulk path, which evaluates them over whole domains) wrapped in
a :class:`Memo`, and conditions become predicates built on the same value tests the bulk path
uses.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

from pd_prime_demo.rating.definition import (
    Band,
    BandTable,
    Condition,
    ExactTable,
    InterpolatedTable,
)
from pd_prime_demo.rating.values import RATING_CONTEXT, Value


class Ctx:
    """The records a compiled step reads. The engine moves one context over a risk's units
    (reassigning driver, vehicle and selection) rather than building one per unit."""

    __slots__ = ("deductible", "driver", "limit", "policy", "vehicle")

    def __init__(self, policy: Mapping[str, Value]) -> None:
        self.policy = policy
        self.driver: Mapping[str, Value] = {}
        self.vehicle: Mapping[str, Value] = {}
        self.limit: str | None = None
        self.deductible: str | None = None


Getter = Callable[[Ctx], Any]


def getter_source(ref: str) -> str:
    """The Python expression reading ``ref`` from a context ``c`` (names quoted by repr)."""
    if ref == "coverage.limit":
        return "c.limit"
    if ref == "coverage.deductible":
        return "c.deductible"
    scope, name = ref.split(".", 1)
    record = scope if scope in ("policy", "driver") else "vehicle"
    return f"c.{record}[{name!r}]"


def _getter(ref: str) -> Getter:
    return _read(getter_source(ref))


def _read(source: str) -> Getter:
    """A context reader compiled from an expression of :func:`getter_source`, so the worksheet
    path and the generated amount-only path read a variable by one definition."""
    reader: Getter = eval(f"lambda c: {source}", {})  # noqa: S307 - only repr-quoted names
    return reader


def _key_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# A compiled lookup returns (value, key as shown on the worksheet).
Lookup = Callable[[Ctx], tuple[Decimal, str]]

# Lookups are pure functions of their key, so each table remembers its answers. Keys come from
# bounded domains (enums, integers in a range); the cap only guards decimal-valued keys.
_MEMO_LIMIT = 10_000


class Memo:
    """A table lookup that remembers its answers: ``lookup`` for the explained steps, and
    ``key_source``, ``memo`` and ``fill`` for the generated amount-only path."""

    __slots__ = ("fill", "key_source", "lookup", "memo")

    def __init__(
        self,
        key_of: Callable[[Ctx], Any],
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

        def lookup(c: Ctx) -> tuple[Decimal, str]:
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


def compile_table(table: ExactTable | BandTable | InterpolatedTable) -> Memo:
    resolve = table_resolver(table)
    if isinstance(table, ExactTable):
        if len(table.keys) == 1:
            source = getter_source(table.keys[0])
        else:
            source = "(" + "".join(f"{getter_source(k)}, " for k in table.keys) + ")"
        return Memo(_read(source), source, resolve)
    source = getter_source(table.key)
    return Memo(_read(source), source, resolve)


Predicate = Callable[[Ctx], bool]


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


def compile_condition(cond: Condition) -> Predicate:
    get = _getter(cond.ref)
    test = value_test(cond)
    return lambda c: test(get(c))


def all_of(preds: list[Predicate]) -> Predicate:
    if not preds:
        return lambda c: True
    return lambda c: all(p(c) for p in preds)
