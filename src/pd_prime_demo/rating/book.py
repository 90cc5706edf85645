"""A book of policies encoded in columns, as the bulk rater reads it.

Each rating variable is one numpy :class:`Column` over all rows (enum codes, 0/1 booleans or
integers), and a :class:`Book` ties the policy, driver and vehicle columns together with the
row indexes that say which unit belongs to which policy. A column knows its domain (each
distinct value once, and each row's position in it) because the bulk path evaluates tables and
conditions once per distinct value rather than once per row. :meth:`Book.rating_input` turns
one policy back into the single path's input, for the few rows the bulk path rates exactly and
for checking it against the single path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from pd_prime_demo.rating.values import RatingInput, Selection, Value

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

_DENSE_RANGE = 200_000


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
