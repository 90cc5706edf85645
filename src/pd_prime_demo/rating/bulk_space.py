"""The rows the bulk rater works on, and table lookups and conditions over them.

A :class:`Space` is the rows one coverage is rated over (policies or vehicles) within one
chunk of the book, with the way each row reaches the columns it reads. Lookups and conditions
are evaluated once per distinct value of their variables with the single path's own functions
(``table_resolver``, ``value_test``, ``sorted_bands``) and spread over the rows by indexing;
what depends only on a variable's whole domain is computed once per run in :class:`Shared`, so
every chunk after the first only indexes. An exact space holds Decimal objects instead of
floats, so the same code re-rates, as the single path would, the few rows next to a rounding
boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from pd_prime_demo.rating.book import Book, Bools, Column, Floats, Ints
from pd_prime_demo.rating.definition import BandTable, ExactTable
from pd_prime_demo.rating.engine import CompiledProduct
from pd_prime_demo.rating.lookups import sorted_bands, table_resolver, value_test
from pd_prime_demo.rating.values import Value


class Shared(dict[tuple[Any, ...], npt.NDArray[Any]]):
    """What every chunk of one run computes alike: a table or test over a whole domain."""

    def once(self, key: tuple[Any, ...], make: Callable[[], npt.NDArray[Any]]) -> npt.NDArray[Any]:
        hit = self.get(key)
        if hit is None:
            hit = self[key] = make()
        return hit


class Space:
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

    def exact_subset(self, rows: npt.NDArray[np.intp]) -> Space:
        """The same space restricted to ``rows``, computing exactly in Decimal."""
        sub = Space.__new__(Space)
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


def table_values(
    space: Space, product: CompiledProduct, table_name: str, coverage: str | None
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


def _bands_of(table: BandTable, space: Space) -> Callable[[list[Value]], npt.NDArray[Any]]:
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
    space: Space,
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


def condition_mask(space: Space, conditions: Sequence[Any], coverage: str | None) -> Bools:
    mask = np.ones(space.rows, dtype=np.bool_)
    for cond in conditions:
        test = value_test(cond)
        mask &= space.mapped(cond.ref, coverage, ("cond", id(cond)), _each(test, np.bool_))
    return mask
