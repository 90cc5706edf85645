"""The CSV import of a historical loss triangle, with a pointer to every bad cell.

Two layouts, told apart by the header (see :func:`parse_csv`); the values are cumulative or by
development period as the caller declares. Whatever is wrong comes back as a list of
:class:`~pd_prime_demo.claims.triangles.Problem`, each naming the cell: ``row`` is the 1-based
line of the text (the header is row 1) and ``column`` the header cell, as in
``"row 4, column 36: not a number"``; a missing cell of the long layout has no line, and is
named by origin and age (``"origin 2022, age 24: ..."``). The triangle's own rules are
:func:`~pd_prime_demo.claims.triangles.check_triangle`'s.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import numpy as np
from numpy.typing import NDArray

from pd_prime_demo.claims.triangles import (
    MAX_AGES,
    MAX_ORIGINS,
    MAX_PROBLEMS,
    Locator,
    Measure,
    Problem,
    Triangle,
    check_triangle,
    to_cumulative,
)

MAX_CSV_CHARS = 200_000
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def parse_csv(
    text: str,
    *,
    measure: Measure,
    cumulative: bool,
    allow_decrease: bool = False,
    valuation_date: date | None = None,
) -> Triangle | list[Problem]:
    """A historical triangle from CSV text, or every problem found (up to :data:`MAX_PROBLEMS`).

    Two layouts, told apart by the header:

    * wide: the first column holds the origins, the header row the ages in months
      (``origin,12,24,36``); a blank cell is unknown; rows in chronological order;
    * long: three columns ``origin,age,value`` (the header reads exactly that), one known cell
      a line; origins are sorted by label (``1981`` and ``2024Q1`` labels sort in time order).

    ``cumulative`` says whether the values are cumulative or by development period (then they
    are summed along each row). Numbers are plain decimals (``1234``, ``-5.5``): no exponents,
    thousands separators or ``nan``.
    """
    if len(text) > MAX_CSV_CHARS:
        return [Problem(f"the file has more than {MAX_CSV_CHARS} characters")]
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    numbered = [(n, [c.strip() for c in r]) for n, r in enumerate(rows, start=1) if any(r)]
    if not numbered:
        return [Problem("the file is empty")]
    header = [c.lower() for c in numbered[0][1]]
    if header == ["origin", "age", "value"]:
        parsed = _parse_long(numbered)
    else:
        parsed = _parse_wide(numbered)
    if isinstance(parsed, list):
        return parsed
    origins, ages, values, locate = parsed
    cells = values if cumulative else to_cumulative(values)
    problems = check_triangle(
        origins, ages, cells, measure, allow_decrease=allow_decrease, locate=locate
    )
    if problems:
        return problems
    return Triangle(tuple(origins), tuple(ages), cells, measure, valuation_date, allow_decrease)


_Parsed = tuple[list[str], list[int], NDArray[np.float64], Locator]


def _number(cell: str) -> float | None:
    return float(cell) if _NUMBER.match(cell) else None


def _age(cell: str) -> int | None:
    return int(cell) if cell.isdigit() and cell.isascii() and 0 < int(cell) <= 1200 else None


def _parse_wide(numbered: list[tuple[int, list[str]]]) -> _Parsed | list[Problem]:
    problems: list[Problem] = []
    header = list(numbered[0][1])
    while len(header) > 1 and not header[-1]:
        header.pop()  # the trailing commas of a spreadsheet's export
    ages: list[int] = []
    for cell in header[1:]:
        age = _age(cell)
        if age is None:
            problems.append(Problem("not an age in months", row=numbered[0][0], column=cell))
        else:
            ages.append(age)
    if len(header) < 2:
        problems.append(Problem("the header needs an origin column and ages", row=1))
    body = numbered[1:]
    if len(ages) > MAX_AGES or len(body) > MAX_ORIGINS:
        problems.append(Problem(f"at most {MAX_ORIGINS} origins and {MAX_AGES} ages"))
    if problems:
        return problems
    values = np.full((len(body), len(ages)), np.nan)
    origins: list[str] = []
    first_line: dict[str, int] = {}
    for i, (line, cells) in enumerate(body):
        origins.append(cells[0])
        column = header[0] or "1"
        if not cells[0]:
            problems.append(Problem("the origin is blank", row=line, column=column))
        elif cells[0] in first_line:
            repeat = f"the origin repeats row {first_line[cells[0]]}"
            problems.append(Problem(repeat, row=line, column=column))
        first_line.setdefault(cells[0], line)
        if any(cells[len(header) :]):
            problems.append(Problem(f"{len(cells)} cells, the header has {len(header)}", row=line))
        for k, cell in enumerate(cells[1 : len(header)]):
            if not cell:
                continue
            number = _number(cell)
            if number is None:
                problems.append(Problem("not a number", row=line, column=header[k + 1]))
            else:
                values[i, k] = number
    if problems:
        return problems[:MAX_PROBLEMS]

    def locate(i: int, k: int) -> tuple[int | None, str, str]:
        return body[i][0], header[k + 1], origins[i]

    return origins, ages, values, locate


def _parse_long(numbered: list[tuple[int, list[str]]]) -> _Parsed | list[Problem]:
    problems: list[Problem] = []
    names = ("origin", "age", "value")
    seen: dict[tuple[str, int], tuple[float, int]] = {}
    for line, cells in numbered[1:]:
        if len(cells) != 3:
            problems.append(Problem(f"{len(cells)} cells, not 3", row=line))
            continue
        origin, age_text, value_text = cells
        age, value = _age(age_text), _number(value_text)
        if not origin:
            problems.append(Problem("the origin is blank", row=line, column=names[0]))
        if age is None:
            problems.append(Problem("not an age in months", row=line, column=names[1]))
        if value is None:
            problems.append(Problem("not a number", row=line, column=names[2]))
        if origin and age is not None and value is not None:
            if (origin, age) in seen:
                first = seen[(origin, age)][1]
                problems.append(Problem(f"the cell repeats row {first}", row=line, column="age"))
            seen[(origin, age)] = (value, line)
    if not seen and not problems:
        problems.append(Problem("no cells", row=1))
    origins = sorted({o for o, _ in seen})
    ages = sorted({a for _, a in seen})
    if len(origins) > MAX_ORIGINS or len(ages) > MAX_AGES:
        problems.append(Problem(f"at most {MAX_ORIGINS} origins and {MAX_AGES} ages"))
    if problems:
        return problems[:MAX_PROBLEMS]
    values = np.full((len(origins), len(ages)), np.nan)
    lines: dict[tuple[int, int], int] = {}
    for (origin, age), (value, line) in seen.items():
        i, k = origins.index(origin), ages.index(age)
        values[i, k] = value
        lines[(i, k)] = line

    def locate(i: int, k: int) -> tuple[int | None, str, str]:
        line = lines.get((i, k))
        return (line, "value", origins[i]) if line else (None, str(ages[k]), origins[i])

    return origins, ages, values, locate
