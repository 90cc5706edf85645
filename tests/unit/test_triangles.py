"""Loss triangles: the checks, incremental <-> cumulative, and the CSV import's cell pointers."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pd_prime_demo.claims.triangle_csv import parse_csv
from pd_prime_demo.claims.triangles import (
    MAX_ORIGINS,
    Problem,
    ReservingError,
    Triangle,
    check_triangle,
    parse_measure,
    to_cumulative,
    to_incremental,
)

NAN = math.nan
WIDE = "origin,12,24,36\n2021,100,150,165\n2022,120,192,\n2023,130,,\n"


def small() -> Triangle:
    values = np.array([[100, 150, 165], [120, 192, NAN], [130, NAN, NAN]], dtype=np.float64)
    return Triangle(("2021", "2022", "2023"), (12, 24, 36), values, "paid")


def messages(result: Triangle | list[Problem]) -> list[str]:
    assert isinstance(result, list), "expected problems, got a triangle"
    return [str(p) for p in result]


def test_a_triangle_knows_its_latest_diagonal() -> None:
    tri = small()
    assert tri.shape == (3, 3)
    assert tri.latest.tolist() == [165.0, 192.0, 130.0]
    assert tri.latest_index.tolist() == [2, 1, 0]
    assert not tri.values.flags.writeable


def test_incremental_and_back() -> None:
    tri = small()
    inc = tri.incremental()
    assert np.array_equal(
        inc, np.array([[100, 50, 15], [120, 72, NAN], [130, NAN, NAN]]), equal_nan=True
    )
    again = Triangle.from_incremental(tri.origins, tri.ages, inc, "paid")
    assert again == tri


@given(
    st.integers(1, 8).flatmap(
        lambda n: st.lists(
            st.lists(st.integers(0, 10**7), min_size=n, max_size=n), min_size=n, max_size=n
        )
    )
)
@settings(max_examples=60, deadline=None)
def test_cumulative_incremental_round_trip(rows: list[list[int]]) -> None:
    n = len(rows)
    inc = np.array(rows, dtype=np.float64)
    for i in range(n):
        inc[i, n - i :] = NAN  # the staircase
    cum = to_cumulative(inc)
    assert np.array_equal(to_incremental(cum), inc, equal_nan=True)
    assert np.array_equal(np.isnan(cum), np.isnan(inc))
    tri = Triangle(
        tuple(str(2000 + i) for i in range(n)),
        tuple(12 * (k + 1) for k in range(n)),
        cum,
        "reported_count",
    )
    assert Triangle.from_cells(tri.to_cells()) == tri


def test_invalid_arrays_are_refused_with_the_cell() -> None:
    gap = np.array([[1.0, NAN, 3.0], [1.0, 2.0, NAN]])
    problems = check_triangle(("2021", "2022"), (12, 24, 36), gap, "paid")
    assert "origin 2021, age 36: a known value after an unknown one (the row has a gap)" in [
        str(p) for p in problems
    ]
    with pytest.raises(ReservingError, match="origin 2021, age 36"):
        Triangle(("2021", "2022"), (12, 24, 36), gap, "paid")
    negative = np.array([[1.0, -2.0]])
    assert [str(p) for p in check_triangle(("2021",), (12, 24), negative, "incurred")] == [
        "origin 2021, age 24: a cumulative value cannot be negative"
    ]
    with pytest.raises(ReservingError, match="ages must be positive months"):
        Triangle(("2021",), (24, 12), np.array([[1.0, 2.0]]), "paid")
    with pytest.raises(ReservingError, match="origin labels repeat"):
        Triangle(("2021", "2021"), (12,), np.array([[1.0], [2.0]]), "paid")
    with pytest.raises(ReservingError, match="not 1 x 2"):
        Triangle(("2021",), (12, 24), np.array([[1.0]]), "paid")
    with pytest.raises(ReservingError, match="first age of an origin must be known"):
        Triangle(("2021", "2022"), (12,), np.array([[1.0], [NAN]]), "paid")
    with pytest.raises(ReservingError, match="no origin knows this age"):
        Triangle(("2021",), (12, 24), np.array([[1.0, NAN]]), "paid")


def test_decreases_by_measure() -> None:
    down = np.array([[10.0, 8.0]])
    assert check_triangle(("2021",), (12, 24), down, "incurred") == []
    assert [str(p) for p in check_triangle(("2021",), (12, 24), down, "paid")] == [
        "origin 2021, age 24: cumulative paid decreases (allow_decrease for net of recoveries)"
    ]
    assert check_triangle(("2021",), (12, 24), down, "paid", allow_decrease=True) == []
    assert [str(p) for p in check_triangle(("2021",), (12, 24), down, "reported_count")] == [
        "origin 2021, age 24: the reported count decreases"
    ]
    half = np.array([[1.5]])
    assert "a claim count must be a whole number" in str(
        check_triangle(("2021",), (12,), half, "reported_count")[0]
    )


def test_parse_measure() -> None:
    assert parse_measure("incurred") == "incurred"
    with pytest.raises(ReservingError, match="unknown measure"):
        parse_measure("earned")


def test_csv_wide_cumulative_and_incremental() -> None:
    tri = parse_csv(WIDE, measure="paid", cumulative=True, valuation_date=date(2023, 12, 31))
    assert isinstance(tri, Triangle)
    assert tri.origins == ("2021", "2022", "2023")
    assert tri.ages == (12, 24, 36)
    assert tri.valuation_date == date(2023, 12, 31)
    assert tri.latest.tolist() == [165.0, 192.0, 130.0]
    inc = parse_csv(
        "origin,12,24,36\n2021,100,50,15\n2022,120,72\n2023,130\n", measure="paid", cumulative=False
    )
    assert isinstance(inc, Triangle)
    assert np.array_equal(inc.values, tri.values, equal_nan=True)


def test_csv_long_layout_sorts_origins() -> None:
    text = "origin,age,value\n2022,12,120\n2021,24,150\n2021,12,100\n2022,24,192\n2023,12,130\n"
    text += "2021,36,165\n"
    tri = parse_csv(text, measure="paid", cumulative=True)
    assert isinstance(tri, Triangle)
    assert tri == small()


def test_csv_trailing_commas_of_a_spreadsheet() -> None:
    tri = parse_csv(
        "origin,12,24,,\n2021,100,150,,\n2022,120,,,\n", measure="paid", cumulative=True
    )
    assert isinstance(tri, Triangle)
    assert tri.ages == (12, 24)


def test_csv_quarters_and_a_byte_order_mark() -> None:
    tri = parse_csv(
        "\ufefforigin,3,6\n2024Q1,5,7\n2024Q2,6\n", measure="reported_count", cumulative=True
    )
    assert isinstance(tri, Triangle)
    assert tri.origins == ("2024Q1", "2024Q2")
    assert tri.ages == (3, 6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("origin,12,24\n2021,100,150\n2022,1O0\n", "row 3, column 12: not a number"),
        ("origin,12,24\n2021,100,1e3\n2022,100\n", "row 2, column 24: not a number"),
        ("origin,12,24\n2021,100,nan\n2022,100\n", "row 2, column 24: not a number"),
        ("origin,12,x\n2021,100,150\n", "row 1, column x: not an age in months"),
        (
            "origin,12,24,36\n2021,100,,150\n2022,1\n",
            "row 2, column 36: a known value after an unknown one (the row has a gap)",
        ),
        (
            "origin,12,24\n2021,100,90\n2022,100\n",
            "row 2, column 24: cumulative paid decreases (allow_decrease for net of recoveries)",
        ),
        (
            "origin,12,24\n2021,-5,9\n2022,100\n",
            "row 2, column 12: a cumulative value cannot be negative",
        ),
        ("origin,12,24\n,100,150\n2022,100\n", "row 2, column origin: the origin is blank"),
        ("origin,12,24\n2021,100,150,7\n", "row 2: 4 cells, the header has 3"),
        ("", "the file is empty"),
        ("AY,12\n2021,1\n2021,2\n", "row 3, column AY: the origin repeats row 2"),
        (
            "origin,age,value\n2021,12,100\n2021,12,120\n",
            "row 3, column age: the cell repeats row 2",
        ),
        (
            "origin,age,value\n2021,12,100\n2021,twelve,5\n",
            "row 3, column age: not an age in months",
        ),
        ("origin,age,value\n2021,12,100\n2021,24,abc\n", "row 3, column value: not a number"),
        (
            "origin,age,value\n2021,12,100\n2021,36,150\n2022,24,9\n",
            "origin 2022, age 12: the first age of an origin must be known",
        ),
        (
            "origin,age,value\n2021,12,100\n2021,24,150\n2021,36,170\n2022,12,1\n2022,36,5\n",
            "row 6, column value: a known value after an unknown one (the row has a gap)",
        ),
    ],
)
def test_csv_problems_point_at_the_cell(text: str, expected: str) -> None:
    found = messages(parse_csv(text, measure="paid", cumulative=True))
    assert expected in found, found


def test_a_problem_as_a_dict() -> None:
    (problem,) = messages_of("origin,12\n2021,x\n")
    assert problem.to_dict() == {
        "row": 2,
        "column": "12",
        "origin": None,
        "message": "not a number",
        "detail": "row 2, column 12: not a number",
    }


def messages_of(text: str) -> list[Problem]:
    result = parse_csv(text, measure="paid", cumulative=True)
    assert isinstance(result, list)
    return result


def test_csv_incremental_counts_must_not_go_down() -> None:
    text = "origin,12,24\n2021,10,-2\n2022,4\n"
    assert messages(parse_csv(text, measure="reported_count", cumulative=False)) == [
        "row 2, column 24: the reported count decreases"
    ]
    net = parse_csv(text, measure="paid", cumulative=False, allow_decrease=True)
    assert isinstance(net, Triangle)
    assert net.latest.tolist() == [8.0, 4.0]


def test_csv_size_limits() -> None:
    rows = "".join(f"{1900 + i},1\n" for i in range(MAX_ORIGINS + 1))
    assert messages(parse_csv("origin,12\n" + rows, measure="paid", cumulative=True)) == [
        "at most 60 origins and 60 ages"
    ]
    assert messages(parse_csv("x" * 300_000, measure="paid", cumulative=True)) == [
        "the file has more than 200000 characters"
    ]


@given(
    st.integers(1, 6).flatmap(
        lambda n: st.lists(
            st.lists(st.integers(0, 10**6), min_size=n, max_size=n), min_size=n, max_size=n
        )
    ),
    st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_csv_round_trip(rows: list[list[int]], long: bool) -> None:
    n = len(rows)
    inc = np.array(rows, dtype=np.float64)
    for i in range(n):
        inc[i, n - i :] = NAN
    tri = Triangle.from_incremental(
        tuple(str(1990 + i) for i in range(n)), tuple(12 * (k + 1) for k in range(n)), inc, "paid"
    )
    if long:
        lines = ["origin,age,value"] + [
            f"{o},{a},{int(inc[i, k])}"
            for i, o in enumerate(tri.origins)
            for k, a in enumerate(tri.ages)
            if not math.isnan(inc[i, k])
        ]
    else:
        lines = ["origin," + ",".join(str(a) for a in tri.ages)] + [
            o + "," + ",".join("" if math.isnan(v) else str(int(v)) for v in inc[i])
            for i, o in enumerate(tri.origins)
        ]
    assert parse_csv("\n".join(lines), measure="paid", cumulative=False) == tri


def test_cells_as_the_table_keeps_them() -> None:
    tri = small()
    cells = {k: tri.to_cells()[k] for k in ("origins", "ages", "values")}
    assert Triangle.from_cells(cells, measure="paid") == tri
    dated = Triangle.from_cells(cells, measure="paid", valuation_date=date(2023, 12, 31))
    assert dated.valuation_date == date(2023, 12, 31)
    with pytest.raises(ReservingError, match="measures"):
        Triangle.from_cells(cells)
