"""Loss development triangles: a typed value and its checks (the CSV import: ``triangle_csv``).

A :class:`Triangle` holds *cumulative* values by origin period (accident year ``"1981"`` or
quarter ``"2024Q1"``; the labels are the caller's, in chronological order) and development age
in months, with NaN for the cells not yet known (the lower right). It measures one thing: paid
losses, incurred losses (paid plus case reserves) or reported claim counts.

What a valid triangle is (checked on construction, so an invalid one cannot exist):

* 1 to :data:`MAX_ORIGINS` unique non-empty origin labels and 1 to :data:`MAX_AGES` ages,
  positive whole months, strictly increasing;
* each origin knows a *prefix* of the ages: its first age is known and no known cell follows an
  unknown one (no gaps); every age is known for at least one origin;
* every known value is finite and not negative (a negative cumulative amount or count is a data
  error, not a development);
* reported counts are whole numbers and never decrease; incurred may decrease (case reserves
  are taken down as claims settle); cumulative paid may decrease only when the triangle says
  ``allow_decrease=True`` (paid net of salvage and subrogation recoveries), and otherwise a
  decrease is refused as a likely data error.

Problems point at the bad cell: ``"origin 1983, age 36: ..."`` for a triangle given as arrays,
``"row 4, column 36: not a number"`` for the CSV import (``claims.triangle_csv``).
Friedland, *Estimating Unpaid Claims Using Basic Techniques* (CAS, 2010), chapters 5 and 6,
describes the triangles.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import NDArray

Measure = Literal["paid", "incurred", "reported_count"]
MEASURES: tuple[Measure, ...] = ("paid", "incurred", "reported_count")
MAX_ORIGINS = 60
MAX_AGES = 60
MAX_LABEL_CHARS = 32
MAX_PROBLEMS = 50  # a parse stops listing after this many


class ReservingError(ValueError):
    """Inputs a reserving method cannot work with (raised; the message says what and where)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a triangle, with a pointer to the cell."""

    message: str
    row: int | None = None  # 1-based line of the CSV text (the header is row 1)
    column: str | None = None  # the CSV header cell, or the age in months
    origin: str | None = None

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.origin is not None and self.row is None:
            where.append(f"origin {self.origin}")
        if self.column is not None:
            where.append(f"column {self.column}" if self.row is not None else f"age {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, Any]:
        """The fields and the whole sentence (``detail``), for an API's error list."""
        return {
            "row": self.row,
            "column": self.column,
            "origin": self.origin,
            "message": self.message,
            "detail": str(self),
        }


def parse_measure(text: str) -> Measure:
    if text not in MEASURES:
        raise ReservingError(f"unknown measure {text!r}: one of {', '.join(MEASURES)}")
    return text


Locator = Callable[[int, int], tuple[int | None, str, str]]


def _array_locator(origins: Sequence[str], ages: Sequence[int]) -> Locator:
    def locate(i: int, k: int) -> tuple[int | None, str, str]:
        return None, str(ages[k]), origins[i]

    return locate


def check_triangle(
    origins: Sequence[str],
    ages: Sequence[int],
    values: NDArray[np.float64],
    measure: Measure,
    *,
    allow_decrease: bool = False,
    locate: Locator | None = None,
) -> list[Problem]:
    """Every problem of a would-be triangle (empty when it is valid); see the module doc."""
    problems: list[Problem] = []
    if measure not in MEASURES:
        return [Problem(f"unknown measure {measure!r}")]
    if not 1 <= len(origins) <= MAX_ORIGINS:
        problems.append(Problem(f"{len(origins)} origins: between 1 and {MAX_ORIGINS}"))
    if not 1 <= len(ages) <= MAX_AGES:
        problems.append(Problem(f"{len(ages)} ages: between 1 and {MAX_AGES}"))
    if len(set(origins)) != len(origins):
        problems.append(Problem("origin labels repeat"))
    for label in origins:
        if not label or len(label) > MAX_LABEL_CHARS or label != label.strip():
            problems.append(Problem(f"origin label {label!r}: 1 to {MAX_LABEL_CHARS} characters"))
    if any(a <= 0 for a in ages) or any(b <= a for a, b in itertools.pairwise(ages)):
        problems.append(Problem("ages must be positive months, strictly increasing"))
    if values.shape != (len(origins), len(ages)):
        problems.append(Problem(f"values are {values.shape}, not {len(origins)} x {len(ages)}"))
    if problems:
        return problems
    where = locate or _array_locator(origins, ages)

    def add(i: int, k: int, message: str) -> None:
        row, column, origin = where(i, k)
        problems.append(Problem(message, row=row, column=column, origin=origin))

    known = ~np.isnan(values)
    for i in range(len(origins)):
        if not known[i, 0]:
            add(i, 0, "the first age of an origin must be known")
        for k in range(1, len(ages)):
            if known[i, k] and not known[i, k - 1]:
                add(i, k, "a known value after an unknown one (the row has a gap)")
        for k in range(len(ages)):
            if not known[i, k]:
                continue
            value = float(values[i, k])
            if not math.isfinite(value):
                add(i, k, "not a finite number")
            elif value < 0:
                add(i, k, "a cumulative value cannot be negative")
            elif measure == "reported_count" and value != math.floor(value):
                add(i, k, "a claim count must be a whole number")
            elif k > 0 and known[i, k - 1] and value < values[i, k - 1]:
                if measure == "reported_count":
                    add(i, k, "the reported count decreases")
                elif measure == "paid" and not allow_decrease:
                    add(i, k, "cumulative paid decreases (allow_decrease for net of recoveries)")
    for k in range(len(ages)):
        if not known[:, k].any():
            problems.append(Problem("no origin knows this age", column=str(ages[k])))
    return problems[:MAX_PROBLEMS]


@dataclass(frozen=True, eq=False)
class Triangle:
    """A cumulative loss triangle (see the module doc for what is checked)."""

    origins: tuple[str, ...]
    ages: tuple[int, ...]
    values: NDArray[np.float64]
    measure: Measure
    valuation_date: date | None = None
    allow_decrease: bool = False

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64, copy=True)
        object.__setattr__(self, "origins", tuple(self.origins))
        object.__setattr__(self, "ages", tuple(int(a) for a in self.ages))
        problems = check_triangle(
            self.origins, self.ages, values, self.measure, allow_decrease=self.allow_decrease
        )
        if problems:
            raise ReservingError("; ".join(str(p) for p in problems))
        values.flags.writeable = False
        object.__setattr__(self, "values", values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Triangle):
            return NotImplemented
        return (
            self.origins == other.origins
            and self.ages == other.ages
            and self.measure == other.measure
            and self.valuation_date == other.valuation_date
            and self.allow_decrease == other.allow_decrease
            and bool(np.array_equal(self.values, other.values, equal_nan=True))
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.origins), len(self.ages)

    @property
    def latest_index(self) -> NDArray[np.intp]:
        """Per origin, the index of its last known age."""
        return cast(NDArray[np.intp], (~np.isnan(self.values)).sum(axis=1) - 1)

    @property
    def latest(self) -> NDArray[np.float64]:
        """Per origin, the latest known cumulative value (the diagonal)."""
        return self.values[np.arange(len(self.origins)), self.latest_index]

    def incremental(self) -> NDArray[np.float64]:
        """The values by development period (NaN where unknown)."""
        return to_incremental(self.values)

    @classmethod
    def from_incremental(
        cls,
        origins: Sequence[str],
        ages: Sequence[int],
        increments: NDArray[np.float64],
        measure: Measure,
        *,
        valuation_date: date | None = None,
        allow_decrease: bool = False,
    ) -> Triangle:
        return cls(
            tuple(origins),
            tuple(ages),
            to_cumulative(increments),
            measure,
            valuation_date=valuation_date,
            allow_decrease=allow_decrease,
        )

    def scaled(self, factor: float) -> Triangle:
        """The same triangle with every value times ``factor`` (> 0)."""
        return Triangle(
            self.origins,
            self.ages,
            self.values * factor,
            self.measure,
            self.valuation_date,
            self.allow_decrease,
        )

    def to_cells(self) -> dict[str, Any]:
        """``{"origins", "ages", "values" (null where unknown), "measure", ...}``: JSON-ready;
        floats are written as Python's shortest repr, so :meth:`from_cells` is exact."""
        rows = [[None if math.isnan(v) else float(v) for v in row] for row in self.values]
        return {
            "origins": list(self.origins),
            "ages": list(self.ages),
            "values": rows,
            "measure": self.measure,
            "valuation_date": self.valuation_date.isoformat() if self.valuation_date else None,
            "allow_decrease": self.allow_decrease,
        }

    @classmethod
    def from_cells(
        cls,
        cells: Mapping[str, Any],
        *,
        measure: Measure | None = None,
        valuation_date: date | None = None,
    ) -> Triangle:
        """The inverse of :meth:`to_cells`; ``measure`` and ``valuation_date`` stand in for
        keys the cells lack (``loss_triangles.cells`` keeps only origins, ages and values)."""
        values = np.array(
            [[math.nan if v is None else float(v) for v in row] for row in cells["values"]],
            dtype=np.float64,
        ).reshape(len(cells["origins"]), len(cells["ages"]))
        stored = cells.get("valuation_date")
        if "measure" in cells:
            measure = parse_measure(str(cells["measure"]))
        if measure is None:
            raise ReservingError("the cells do not say what the triangle measures")
        return cls(
            tuple(str(o) for o in cells["origins"]),
            tuple(int(a) for a in cells["ages"]),
            values,
            measure,
            date.fromisoformat(stored) if stored else valuation_date,
            bool(cells.get("allow_decrease", False)),
        )


def to_incremental(cumulative: NDArray[np.float64]) -> NDArray[np.float64]:
    """Cumulative to incremental by row; unknown (NaN) cells stay unknown."""
    out = np.array(cumulative, dtype=np.float64, copy=True)
    out[:, 1:] = cumulative[:, 1:] - cumulative[:, :-1]
    return out


def to_cumulative(incremental: NDArray[np.float64]) -> NDArray[np.float64]:
    """Incremental to cumulative by row; unknown (NaN) cells stay unknown."""
    unknown = np.isnan(incremental)
    out = np.cumsum(np.where(unknown, 0.0, incremental), axis=1)
    out[unknown] = np.nan
    return cast(NDArray[np.float64], out)
