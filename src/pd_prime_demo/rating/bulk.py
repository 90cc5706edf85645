"""Vectorised bulk re-rating of a whole book, equal to the single path to the cent.

Every table lookup and condition is evaluated once per *distinct* input value with the very
functions the single path uses (``table_resolver``, ``value_test``, ``discount_outcomes``; band
tables search the same ``sorted_bands`` for a whole domain at once), and the results are spread
over the book with numpy indexing. The running amounts are then carried
in float64. That is exact enough everywhere except next to a rounding boundary, so each rounding
(and each minimum) checks its distance to the boundary: float64's error over a rating algorithm
is far below ``AMBIGUITY`` units, so a value further away rounds exactly as Decimal would, and
a policy with any value closer is re-rated by the single path. Results are therefore identical
to the cent by construction, not by luck; the benchmark still checks a sample. This module
rates a book chunk by chunk; the columnar book is in :mod:`~pd_prime_demo.rating.book`, the
rows and the lookups over them in :mod:`~pd_prime_demo.rating.bulk_space`, and the vectorised
steps in :mod:`~pd_prime_demo.rating.bulk_steps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import numpy.typing as npt

from pd_prime_demo.rating.book import Book, Column, Ints
from pd_prime_demo.rating.bulk_space import Shared, Space
from pd_prime_demo.rating.bulk_steps import run_steps
from pd_prime_demo.rating.engine import CompiledProduct
from pd_prime_demo.rating.values import RATING_CONTEXT

# The book's columnar types are part of the bulk rater's interface: callers import them here.
__all__ = ["Book", "BulkRater", "BulkResult", "Column"]

TICKS = 10_000  # coverage premiums are summed as integers of 1/10,000 dollar
CHUNK = 65_536  # policies rated together (see BulkRater)


@dataclass(frozen=True)
class BulkResult:
    premium_cents: Ints
    total_cents: Ints
    exact_fallbacks: int


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
        spaces = {kind: Space(book, kind, rows, shared) for kind in ("policy", "vehicle")}
        premium_ticks = np.zeros(size, dtype=np.int64)
        exact_rows = 0
        for cov in defn.coverages:
            space = spaces[cov.unit]
            steps = defn.algorithm.coverages[cov.code]
            amount, flags, _, _ = run_steps(
                space, self.product, steps, cov.code, np.zeros(space.rows)
            )
            in_book = book.selected[cov.code][space.policy_index]
            ticks = np.rint(amount * TICKS).astype(np.int64)
            redo = np.flatnonzero(flags & in_book)
            if len(redo):
                exact_rows += len(redo)
                subset = space.exact_subset(redo)
                with localcontext(RATING_CONTEXT):
                    exact, _, _, _ = run_steps(
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
        premium, flags, fees, taxes = run_steps(
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
                exact, _, exact_fees, exact_taxes = run_steps(
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
