"""Vectorised bulk re-rating of a whole book, equal to the single path to the cent.

Every table lookup and condition is evaluated once per *distinct* input value with the very
functions the single path uses (``table_resolver``, ``value_test``, ``discount_outcomes``; band
tables search the same ``sorted_bands`` for a whole domain at once), and the results are spread
over the book with numpy indexing. The running amounts are then carried
in float64. That is exact enough everywhere except next to a rounding boundary, so each rounding
(and each minimum) checks its distance to the boundary: float64's error over a rating algorithm
is far below ``AMBIGUITY`` units, so a value further away rounds exactly as Decimal would, and
a policy with any value closer is re-rated by the single path. Results are therefore identical
to the cent by construction, not by luck; the benchmark still checks a sample.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from functools import partial
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from pd_prime_demo.rating.definition import (
    AddStep,
    BandTable,
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
    RATING_CONTEXT,
    ROUNDING,
    CompiledProduct,
    RatingInput,
    Selection,
    Value,
    discount_outcomes,
    sorted_bands,
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
CHUNK = 65_536  # policies rated together (see BulkRater)


@dataclass
class Column:
    """One rating variable for every row: codes for enums, 0/1 for booleans, integers else."""

    kind: Literal["enum", "bool", "int", "decimal"]
    values: npt.NDArray[Any]
    categories: tuple[str, ...] = ()
    _domain: tuple[list[Value], npt.NDArray[np.intp]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

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
        """Each distinct value once, and each row's position in that list (computed once)."""
        if self._domain is not None:
            return self._domain
        if self.kind == "enum":
            found: tuple[list[Value], npt.NDArray[np.intp]] = (
                list(self.categories),
                self.values.astype(np.intp, copy=False),
            )
        elif self.kind == "bool":
            found = [False, True], self.values.astype(np.intp, copy=False)
        else:
            low, high = int(self.values.min()), int(self.values.max())
            wrap: Callable[[int], Value] = int if self.kind == "int" else Decimal
            if high - low <= _DENSE_RANGE:
                found = (
                    [wrap(v) for v in range(low, high + 1)],
                    (self.values - low).astype(np.intp, copy=False),
                )
            else:
                uniques, inverse = np.unique(self.values, return_inverse=True)
                found = [wrap(int(v)) for v in uniques], inverse.astype(np.intp, copy=False)
        self._domain = found
        return found


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
    """The rows one coverage is rated over (policies or vehicles) within one chunk of the book,
    and how to reach their inputs.

    ``exact`` spaces carry Decimal objects instead of floats: the same interpreter then does
    the single path's arithmetic, used for the few rows next to a rounding boundary.
    """

    def __init__(self, book: Book, kind: str, policies: slice, shared: Shared) -> None:
        self.book = book
        self.kind = kind
        self.exact = False
        self.subset: npt.NDArray[np.intp] | None = None
        self.shared = shared
        if kind == "vehicle":
            first, last = np.searchsorted(book.vehicle_policy, [policies.start, policies.stop])
            self.own = slice(int(first), int(last))
            self.rows = self.own.stop - self.own.start
            self.policy_index: Ints | slice = book.vehicle_policy[self.own]
            self.driver_index: Ints | slice | None = book.vehicle_driver[self.own]
        else:
            self.own = policies
            self.rows = policies.stop - policies.start
            self.policy_index = policies
            self.driver_index = None
        self._memo: dict[tuple[Any, ...], npt.NDArray[Any]] = {}
        self._codes: dict[tuple[str, str | None], tuple[list[Value], npt.NDArray[np.intp]]] = {}

    def exact_subset(self, rows: npt.NDArray[np.intp]) -> _Space:
        """The same space restricted to ``rows``, computing exactly in Decimal."""
        sub = _Space.__new__(_Space)
        sub.book, sub.kind, sub.exact, sub.subset = self.book, self.kind, True, rows
        sub.shared, sub.own, sub.rows = self.shared, self.own, len(rows)
        sub.policy_index = self.policy_index
        sub.driver_index = self.driver_index
        sub._memo = {}
        sub._codes = self._codes
        return sub

    def source(self, ref: str, coverage: str | None) -> tuple[Column, Ints | slice | None]:
        """The column behind ``ref`` and which of its rows this space's rows read."""
        scope, name = ref.split(".", 1)
        if scope == "policy":
            return self.book.policy[name], self.policy_index
        if scope == "driver":
            return self.book.drivers[name], self.driver_index
        if scope == "vehicle":
            return self.book.vehicles[name], self.own
        assert coverage is not None
        columns = self.book.limits if name == "limit" else self.book.deductibles
        return columns[coverage], self.policy_index

    def codes(self, ref: str, coverage: str | None) -> tuple[list[Value], npt.NDArray[np.intp]]:
        """Distinct values of ``ref`` (over the whole book) and each row's index into them."""
        key = (ref, coverage if ref.startswith("coverage.") else None)
        hit = self._codes.get(key)
        if hit is None:
            column, gather = self.source(ref, coverage)
            domain, index = column.domain()
            hit = (domain, index if gather is None else index[gather])
            self._codes[key] = hit
        return hit

    def index(self, ref: str, coverage: str | None) -> npt.NDArray[np.intp]:
        index = self.codes(ref, coverage)[1]
        return index if self.subset is None else index[self.subset]

    def mapped(
        self,
        ref: str,
        coverage: str | None,
        tag: Any,
        fn: Callable[[list[Value]], npt.NDArray[Any]],
    ) -> npt.NDArray[Any]:
        """``fn`` of ``ref``'s distinct values, spread over every row."""
        key = ("mapped", ref, coverage if ref.startswith("coverage.") else None, tag)
        hit = self._memo.get(key)
        if hit is None:
            domain, _ = self.codes(ref, coverage)
            index = self.index(ref, coverage)
            if self.subset is not None:  # a few rows: evaluate only the values they hold
                present, index = np.unique(index, return_inverse=True)
                hit = fn([domain[i] for i in present])[index]
            else:  # the whole domain, once per run: every chunk shares it
                hit = self.shared.once((*key, self.exact), lambda: fn(domain))[index]
            self._memo[key] = hit
        return hit

    def number(self, value: Decimal) -> Any:
        return value if self.exact else float(value)

    @property
    def dtype(self) -> Any:
        return object if self.exact else np.float64

    def full(self, value: Decimal) -> npt.NDArray[Any]:
        out = np.empty(self.rows, dtype=self.dtype)
        out[:] = self.number(value)
        return out


class Shared(dict[tuple[Any, ...], npt.NDArray[Any]]):
    """What every chunk of one run computes alike: a table or test over a whole domain."""

    def once(self, key: tuple[Any, ...], make: Callable[[], npt.NDArray[Any]]) -> npt.NDArray[Any]:
        hit = self.get(key)
        if hit is None:
            hit = self[key] = make()
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
            domain, _ = space.codes(ref, coverage)
            combined = combined * len(domain) + space.index(ref, coverage)
            domains.append(domain)
        key = ("product", table_name, coverage, space.exact)
        values = space.shared.once(key, lambda: _product_domain(domains, resolve, space))
        return values[combined]
    tag = ("table", table_name)
    if isinstance(table, BandTable):
        return space.mapped(table.key, coverage, tag, _bands_of(table, space))
    ref = table.keys[0] if isinstance(table, ExactTable) else table.key
    return space.mapped(
        ref, coverage, tag, _each(lambda v: space.number(resolve(v)[0]), space.dtype)
    )


def _each(fn: Callable[[Value], Any], dtype: Any) -> Callable[[list[Value]], npt.NDArray[Any]]:
    def over(domain: list[Value]) -> npt.NDArray[Any]:
        out = np.empty(len(domain), dtype=dtype)
        out[:] = [fn(v) for v in domain]
        return out

    return over


def _bands_of(table: BandTable, space: _Space) -> Callable[[list[Value]], npt.NDArray[Any]]:
    """The band table over a whole domain at once: the single path's bisect, as one sorted
    search (on Python objects, so keys compare exactly as they do there)."""
    bands = sorted_bands(table)
    mins = np.empty(len(bands), dtype=object)
    mins[:] = [b.min for b in bands]
    values = np.empty(len(bands), dtype=space.dtype)
    values[:] = [space.number(b.value) for b in bands]

    def over(domain: list[Value]) -> npt.NDArray[Any]:
        keys = np.empty(len(domain), dtype=object)
        keys[:] = domain
        position = np.searchsorted(mins, keys, side="right") - 1
        return values[np.maximum(position, 0)]

    return over


def _product_domain(
    domains: Sequence[list[Value]],
    resolve: Callable[[Any], tuple[Decimal, str]],
    space: _Space,
) -> npt.NDArray[Any]:
    combos: list[tuple[Value, ...]] = [()]
    for domain in domains:
        combos = [(*c, v) for c in combos for v in domain]
    out = np.empty(len(combos), dtype=space.dtype)
    for i, combo in enumerate(combos):
        try:
            out[i] = space.number(resolve(combo)[0])
        except KeyError:  # a combination no row has (validation covers declared domains)
            out[i] = space.number(Decimal("NaN"))
    return out


def _discount_factors(step: DiscountStep, space: _Space) -> npt.NDArray[Any]:
    """The combined factor for every subset of the step's items (bit i: item i applies)."""
    outcome = discount_outcomes(step)
    size = len(step.items)
    factors = np.empty(1 << size, dtype=space.dtype)
    factors[:] = [
        space.number(outcome(tuple(bool(m >> i & 1) for i in range(size)))[0])
        if m
        else space.number(Decimal(1))
        for m in range(1 << size)
    ]
    return factors


def _conditions(space: _Space, conditions: Sequence[Any], coverage: str | None) -> Bools:
    mask = np.ones(space.rows, dtype=np.bool_)
    for cond in conditions:
        test = value_test(cond)
        mask &= space.mapped(cond.ref, coverage, ("cond", id(cond)), _each(test, np.bool_))
    return mask


def _round(
    space: _Space, amount: npt.NDArray[Any], unit: Decimal, mode: RoundingMode
) -> tuple[npt.NDArray[Any], Bools]:
    if space.exact:
        rounding = ROUNDING[mode]
        out = np.empty(len(amount), dtype=object)
        out[:] = [a.quantize(unit, rounding) for a in amount]
        return out, np.zeros(len(amount), dtype=np.bool_)
    u = float(unit)
    y = amount * (1.0 / u) if u < 1 else amount / u
    if mode in (RoundingMode.HALF_UP, RoundingMode.HALF_EVEN):
        rounded = np.rint(y)  # away from a tie, both half modes round to nearest
        distance = np.abs(y - rounded)  # 0.5 at a tie
        distance -= 0.5
        np.abs(distance, out=distance)
        ambiguous = distance < AMBIGUITY
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
    amount: npt.NDArray[Any],
) -> tuple[npt.NDArray[Any], Bools, npt.NDArray[Any], npt.NDArray[Any]]:
    """Apply ``steps``; returns amount, ambiguity flags, fees and taxes (policy steps only)."""
    flags = np.zeros(space.rows, dtype=np.bool_)
    fees = space.full(Decimal(0))
    taxes = space.full(Decimal(0))
    for step in steps:
        if isinstance(step, BaseStep):
            if step.table is not None:
                amount = _lookup(space, product, step.table, coverage)
            else:
                amount = space.full(step.amount or Decimal(0))
        elif isinstance(step, MultiplyStep | AddStep):
            if step.table is not None:
                value: Any = _lookup(space, product, step.table, coverage)
            else:
                constant = step.factor if isinstance(step, MultiplyStep) else step.amount
                value = space.number(constant or Decimal(0))
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
            factors = space.shared.once(
                ("discount", id(step), space.exact), partial(_discount_factors, step, space)
            )
            amount = amount * factors[bits]
        elif isinstance(step, MinimumStep):
            if not space.exact:
                floor = float(step.amount)
                flags |= np.abs(amount - floor) < AMBIGUITY * max(1.0, abs(floor))
            amount = np.maximum(amount, space.number(step.amount))
        elif isinstance(step, RoundStep):
            amount, ambiguous = _round(space, amount, step.unit, step.mode)
            flags |= ambiguous
        elif isinstance(step, FeeStep):
            fees = fees + space.number(step.amount)
        elif isinstance(step, TaxStep):
            base = amount + fees if step.base == "premium_and_fees" else amount
            tax, ambiguous = _round(space, base * space.number(step.rate), step.unit, step.mode)
            flags |= ambiguous
            taxes = taxes + tax
    return amount, flags, fees, taxes


def _exact_ticks(amounts: npt.NDArray[Any]) -> Ints:
    ticks = [a * TICKS for a in amounts]
    if any(t != t.to_integral_value() for t in ticks):
        raise ValueError("bulk re-rating needs coverage rounding to at least 1/10,000 of a unit")
    return np.asarray([int(t) for t in ticks], dtype=np.int64)


class BulkRater:
    """Re-rates a :class:`Book` against one compiled product version.

    The book is rated ``chunk`` policies at a time, so each step's temporary arrays are a
    megabyte or so and the allocator reuses them from one chunk to the next. Whole-book arrays
    (16 MB per float column of a million vehicles) were mapped fresh from the kernel at almost
    every step, and all held at once: a million auto policies took 1.8 s and 1.25 GB the first
    time (0.6 s once the allocator had grown), against 0.5 s and 0.57 GB in chunks. Values
    over a variable's whole domain are still computed once per run (:class:`Shared`).
    """

    def __init__(self, product: CompiledProduct, *, chunk: int = CHUNK) -> None:
        if chunk < 1:
            raise ValueError("chunk must be at least one policy")
        self.product = product
        self.chunk = chunk

    def rate(self, book: Book) -> BulkResult:
        premium_cents = np.empty(book.size, dtype=np.int64)
        total_cents = np.empty(book.size, dtype=np.int64)
        shared = Shared()
        exact_rows = 0
        for start in range(0, book.size, self.chunk):
            rows = slice(start, min(start + self.chunk, book.size))
            exact_rows += self._rate_rows(book, rows, shared, premium_cents, total_cents)
        return BulkResult(premium_cents, total_cents, exact_rows)

    def _rate_rows(
        self,
        book: Book,
        rows: slice,
        shared: Shared,
        premium_out: Ints,
        total_out: Ints,
    ) -> int:
        """Rate the policies in ``rows`` into the two outputs; returns the exact re-ratings."""
        defn = self.product.definition
        size = rows.stop - rows.start
        spaces = {kind: _Space(book, kind, rows, shared) for kind in ("policy", "vehicle")}
        premium_ticks = np.zeros(size, dtype=np.int64)
        exact_rows = 0
        for cov in defn.coverages:
            space = spaces[cov.unit]
            steps = defn.algorithm.coverages[cov.code]
            amount, flags, _, _ = _run_steps(
                space, self.product, steps, cov.code, np.zeros(space.rows)
            )
            in_book = book.selected[cov.code][space.policy_index]
            ticks = np.rint(amount * TICKS).astype(np.int64)
            redo = np.flatnonzero(flags & in_book)
            if len(redo):
                exact_rows += len(redo)
                subset = space.exact_subset(redo)
                with localcontext(RATING_CONTEXT):
                    exact, _, _, _ = _run_steps(
                        subset, self.product, steps, cov.code, subset.full(Decimal(0))
                    )
                ticks[redo] = _exact_ticks(exact)
            ticks = np.where(in_book, ticks, 0)
            if space.kind == "policy":
                premium_ticks += ticks
            else:
                owner = book.vehicle_policy[space.own] - rows.start
                premium_ticks += np.bincount(owner, weights=ticks, minlength=size).astype(np.int64)
        policy_space = spaces["policy"]
        premium, flags, fees, taxes = _run_steps(
            policy_space, self.product, defn.algorithm.policy, None, premium_ticks / TICKS
        )
        premium_cents = np.rint(premium * 100).astype(np.int64)
        total_cents = premium_cents + np.rint((fees + taxes) * 100).astype(np.int64)
        redo = np.flatnonzero(flags)
        if len(redo):
            exact_rows += len(redo)
            subset = policy_space.exact_subset(redo)
            start = np.empty(len(redo), dtype=object)
            start[:] = [Decimal(int(t)) / TICKS for t in premium_ticks[redo]]
            with localcontext(RATING_CONTEXT):
                exact, _, exact_fees, exact_taxes = _run_steps(
                    subset, self.product, defn.algorithm.policy, None, start
                )
            premium_cents[redo] = [int(p * 100) for p in exact]
            total_cents[redo] = [
                int((p + f + t) * 100)
                for p, f, t in zip(exact, exact_fees, exact_taxes, strict=True)
            ]
        premium_out[rows] = premium_cents
        total_out[rows] = total_cents
        return exact_rows
