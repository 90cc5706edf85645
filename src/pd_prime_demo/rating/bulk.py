"""Vectorised bulk re-rating of a whole book, equal to the single path to the cent.

Every table lookup and condition is evaluated once per *distinct* input value with the very
functions the single path uses (``table_resolver``, ``value_test``, ``discount_outcomes``), and
the results are spread over the book with numpy indexing. The running amounts are then carried
in float64. That is exact enough everywhere except next to a rounding boundary, so each rounding
(and each minimum) checks its distance to the boundary: float64's error over a rating algorithm
is far below ``AMBIGUITY`` units, so a value further away rounds exactly as Decimal would, and
a policy with any value closer is re-rated by the single path. Results are therefore identical
to the cent by construction, not by luck; the benchmark still checks a sample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from pd_prime_demo.rating.definition import (
    AddStep,
    BaseStep,
    DiscountStep,
    ExactTable,
    FeeStep,
    MinimumStep,
    MultiplyStep,
    RoundingMode,
    RoundStep,
    TaxStep,
)
from pd_prime_demo.rating.engine import (
    CompiledProduct,
    RatingInput,
    Selection,
    Value,
    discount_outcomes,
    table_resolver,
    value_test,
)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# Distance (in rounding units) to a rounding boundary below which float64 is not trusted.
AMBIGUITY = 1e-6
TICKS = 10_000  # coverage premiums are summed as integers of 1/10,000 dollar
_DENSE_RANGE = 200_000


@dataclass(frozen=True)
class Column:
    """One rating variable for every row: codes for enums, 0/1 for booleans, integers else."""

    kind: Literal["enum", "bool", "int", "decimal"]
    values: npt.NDArray[Any]
    categories: tuple[str, ...] = ()

    def scalar(self, i: int) -> Value:
        raw = self.values[i]
        if self.kind == "enum":
            return self.categories[int(raw)]
        if self.kind == "bool":
            return bool(raw)
        if self.kind == "int":
            return int(raw)
        return Decimal(int(raw))

    def domain(self) -> tuple[list[Value], npt.NDArray[np.intp]]:
        """Each distinct value once, and each row's position in that list."""
        if self.kind == "enum":
            return list(self.categories), self.values.astype(np.intp)
        if self.kind == "bool":
            return [False, True], self.values.astype(np.intp)
        low, high = int(self.values.min()), int(self.values.max())
        wrap: Callable[[int], Value] = int if self.kind == "int" else Decimal
        if high - low <= _DENSE_RANGE:
            return [wrap(v) for v in range(low, high + 1)], (self.values - low).astype(np.intp)
        uniques, inverse = np.unique(self.values, return_inverse=True)
        return [wrap(int(v)) for v in uniques], inverse.astype(np.intp)


@dataclass
class Book:
    """A book of policies in columns. Vehicles point at their policy and principal driver."""

    size: int
    policy: dict[str, Column]
    drivers: dict[str, Column]
    vehicles: dict[str, Column]
    driver_policy: Ints
    vehicle_policy: Ints
    vehicle_driver: Ints  # global driver row of each vehicle's principal driver
    selected: dict[str, Bools]  # per coverage, per policy
    limits: dict[str, Column] = field(default_factory=dict)
    deductibles: dict[str, Column] = field(default_factory=dict)

    def rating_input(self, i: int) -> RatingInput:
        """Policy ``i`` as the single path sees it (unit rows are sorted by policy)."""
        driver_rows = range(*np.searchsorted(self.driver_policy, [i, i + 1]).tolist())
        vehicle_rows = range(*np.searchsorted(self.vehicle_policy, [i, i + 1]).tolist())
        first = driver_rows.start
        drivers = [{k: c.scalar(int(r)) for k, c in self.drivers.items()} for r in driver_rows]
        vehicles = []
        for r in vehicle_rows:
            vehicle = {k: c.scalar(int(r)) for k, c in self.vehicles.items()}
            vehicle["driver"] = int(self.vehicle_driver[r]) - first
            vehicles.append(vehicle)
        coverages = {}
        for code, chosen in self.selected.items():
            if chosen[i]:
                limit = self.limits[code].scalar(i) if code in self.limits else None
                deductible = self.deductibles[code].scalar(i) if code in self.deductibles else None
                coverages[code] = Selection(
                    None if limit is None else str(limit),
                    None if deductible is None else str(deductible),
                )
        return RatingInput(
            policy={k: c.scalar(i) for k, c in self.policy.items()},
            drivers=tuple(drivers),
            vehicles=tuple(vehicles),
            coverages=coverages,
        )


@dataclass(frozen=True)
class BulkResult:
    premium_cents: Ints
    total_cents: Ints
    exact_fallbacks: int


class _Space:
    """The rows one coverage is rated over (policies or vehicles), and how to reach inputs."""

    def __init__(self, book: Book, kind: str) -> None:
        self.book = book
        self.kind = kind
        if kind == "vehicle":
            self.rows = len(book.vehicle_policy)
            self.policy_index: Ints | None = book.vehicle_policy
            self.driver_index: Ints | None = book.vehicle_driver
        else:
            self.rows = book.size
            self.policy_index = None
            self.driver_index = None
        self._memo: dict[tuple[Any, ...], npt.NDArray[Any]] = {}
        self._codes: dict[tuple[str, str | None], tuple[list[Value], npt.NDArray[np.intp]]] = {}

    def source(self, ref: str, coverage: str | None) -> tuple[Column, Ints | None]:
        scope, name = ref.split(".", 1)
        if scope == "policy":
            return self.book.policy[name], self.policy_index
        if scope == "driver":
            return self.book.drivers[name], self.driver_index
        if scope == "vehicle":
            return self.book.vehicles[name], None
        assert coverage is not None
        columns = self.book.limits if name == "limit" else self.book.deductibles
        return columns[coverage], self.policy_index

    def codes(self, ref: str, coverage: str | None) -> tuple[list[Value], npt.NDArray[np.intp]]:
        """Distinct values of ``ref`` and each row's index into them."""
        key = (ref, coverage if ref.startswith("coverage.") else None)
        hit = self._codes.get(key)
        if hit is None:
            column, gather = self.source(ref, coverage)
            domain, index = column.domain()
            hit = (domain, index if gather is None else index[gather])
            self._codes[key] = hit
        return hit

    def mapped(
        self, ref: str, coverage: str | None, tag: Any, fn: Callable[[Value], Any], dtype: Any
    ) -> npt.NDArray[Any]:
        """``fn`` of ``ref`` for every row, evaluated once per distinct value."""
        key = ("mapped", ref, coverage if ref.startswith("coverage.") else None, tag)
        hit = self._memo.get(key)
        if hit is None:
            domain, index = self.codes(ref, coverage)
            hit = np.asarray([fn(v) for v in domain], dtype=dtype)[index]
            self._memo[key] = hit
        return hit


def _lookup(
    space: _Space, product: CompiledProduct, table_name: str, coverage: str | None
) -> Floats:
    table = product.definition.tables[table_name]
    resolve = table_resolver(table)
    if isinstance(table, ExactTable) and len(table.keys) > 1:
        domains: list[list[Value]] = []
        combined = np.zeros(space.rows, dtype=np.intp)
        for ref in table.keys:
            domain, index = space.codes(ref, coverage)
            combined = combined * len(domain) + index
            domains.append(domain)
        values = _product_domain(domains, resolve)
        return values[combined]
    ref = table.keys[0] if isinstance(table, ExactTable) else table.key
    return space.mapped(
        ref, coverage, ("table", table_name), lambda v: float(resolve(v)[0]), np.float64
    )


def _product_domain(
    domains: Sequence[list[Value]], resolve: Callable[[Any], tuple[Decimal, str]]
) -> Floats:
    combos: list[tuple[Value, ...]] = [()]
    for domain in domains:
        combos = [c + (v,) for c in combos for v in domain]
    out: list[float] = []
    for combo in combos:
        try:
            out.append(float(resolve(combo)[0]))
        except KeyError:  # a combination no row has (validation covers declared domains)
            out.append(float("nan"))
    return np.asarray(out, dtype=np.float64)


def _conditions(space: _Space, conditions: Sequence[Any], coverage: str | None) -> Bools:
    mask = np.ones(space.rows, dtype=np.bool_)
    for cond in conditions:
        test = value_test(cond)
        mask &= space.mapped(cond.ref, coverage, ("cond", id(cond)), test, np.bool_)
    return mask


def _round(amount: Floats, unit: Decimal, mode: RoundingMode) -> tuple[Floats, Bools]:
    u = float(unit)
    y = amount / u
    if mode in (RoundingMode.HALF_UP, RoundingMode.HALF_EVEN):
        frac = np.abs(y) - np.floor(np.abs(y))
        ambiguous = np.abs(frac - 0.5) < AMBIGUITY
        rounded = np.rint(y)  # away from a tie, both half modes round to nearest
    else:
        ambiguous = np.abs(y - np.rint(y)) < AMBIGUITY
        if mode is RoundingMode.UP:
            rounded = np.sign(y) * np.ceil(np.abs(y))
        elif mode is RoundingMode.DOWN:
            rounded = np.trunc(y)
        elif mode is RoundingMode.CEILING:
            rounded = np.ceil(y)
        else:
            rounded = np.floor(y)
        # Values that are (numerically) already on a unit keep it, as Decimal would.
        rounded = np.where(ambiguous, np.rint(y), rounded)
    return rounded * u, ambiguous


def _run_steps(
    space: _Space,
    product: CompiledProduct,
    steps: Sequence[Any],
    coverage: str | None,
    amount: Floats,
) -> tuple[Floats, Bools, Floats, Floats]:
    """Apply ``steps``; returns amount, ambiguity flags, fees and taxes (policy steps only)."""
    flags = np.zeros(space.rows, dtype=np.bool_)
    fees = np.zeros(space.rows)
    taxes = np.zeros(space.rows)
    for step in steps:
        if isinstance(step, BaseStep):
            if step.table is not None:
                amount = _lookup(space, product, step.table, coverage).copy()
            else:
                amount = np.full(space.rows, float(step.amount or 0))
        elif isinstance(step, MultiplyStep | AddStep):
            if step.table is not None:
                value: Floats | float = _lookup(space, product, step.table, coverage)
            else:
                constant = step.factor if isinstance(step, MultiplyStep) else step.amount
                value = float(constant or 0)
            changed = amount * value if isinstance(step, MultiplyStep) else amount + value
            amount = (
                np.where(_conditions(space, step.when, coverage), changed, amount)
                if step.when
                else changed
            )
        elif isinstance(step, DiscountStep):
            bits = np.zeros(space.rows, dtype=np.intp)
            for i, item in enumerate(step.items):
                bits |= _conditions(space, item.when, coverage).astype(np.intp) << i
            outcome = discount_outcomes(step)
            size = len(step.items)
            factors = np.asarray(
                [
                    float(outcome(tuple(bool(m >> i & 1) for i in range(size)))[0]) if m else 1.0
                    for m in range(1 << size)
                ]
            )
            amount = amount * factors[bits]
        elif isinstance(step, MinimumStep):
            floor = float(step.amount)
            flags |= np.abs(amount - floor) < AMBIGUITY * max(1.0, abs(floor))
            amount = np.maximum(amount, floor)
        elif isinstance(step, RoundStep):
            amount, ambiguous = _round(amount, step.unit, step.mode)
            flags |= ambiguous
        elif isinstance(step, FeeStep):
            fees = fees + float(step.amount)
        elif isinstance(step, TaxStep):
            base = amount + (fees if step.base == "premium_and_fees" else 0.0)
            tax, ambiguous = _round(base * float(step.rate), step.unit, step.mode)
            flags |= ambiguous
            taxes = taxes + tax
    return amount, flags, fees, taxes


class BulkRater:
    """Re-rates a :class:`Book` against one compiled product version."""

    def __init__(self, product: CompiledProduct) -> None:
        self.product = product

    def rate(self, book: Book) -> BulkResult:
        defn = self.product.definition
        spaces = {"policy": _Space(book, "policy"), "vehicle": _Space(book, "vehicle")}
        premium_ticks = np.zeros(book.size, dtype=np.float64)
        unsure = np.zeros(book.size, dtype=np.bool_)
        for cov in defn.coverages:
            space = spaces[cov.unit]
            steps = defn.algorithm.coverages[cov.code]
            amount, flags, _, _ = _run_steps(
                space, self.product, steps, cov.code, np.zeros(space.rows)
            )
            chosen = book.selected[cov.code]
            ticks = np.rint(amount * TICKS)
            if space.policy_index is None:
                premium_ticks += np.where(chosen, ticks, 0.0)
                unsure |= flags & chosen
            else:
                in_policy = chosen[space.policy_index]
                premium_ticks += np.bincount(
                    space.policy_index, weights=np.where(in_policy, ticks, 0.0), minlength=book.size
                )
                unsure |= (
                    np.bincount(space.policy_index, weights=flags & in_policy, minlength=book.size)
                    > 0
                )
        policy_space = spaces["policy"]
        premium, flags, fees, taxes = _run_steps(
            policy_space, self.product, defn.algorithm.policy, None, premium_ticks / TICKS
        )
        unsure |= flags
        premium_cents = np.rint(premium * 100).astype(np.int64)
        total_cents = premium_cents + np.rint((fees + taxes) * 100).astype(np.int64)
        fallbacks = np.flatnonzero(unsure)
        for i in fallbacks:
            exact = self.product.rate(book.rating_input(int(i)), explain=False)
            premium_cents[i] = int(exact.premium * 100)
            total_cents[i] = int(exact.total * 100)
        return BulkResult(premium_cents, total_cents, len(fallbacks))
