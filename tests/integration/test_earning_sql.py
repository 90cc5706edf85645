"""``pd_earned_through`` (migration 0028) is the earning rule of ``premium.earning`` in SQL: for
any piece and any day it returns exactly what ``Earning.earned_through`` returns, to the cent,
on the real PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Date, Numeric, String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.premium.earning import Earning
from pd_prime_demo.premium.proration import Proration, add_months

Case = tuple[Earning, date]

_EVALUATE = text(
    """
    SELECT pd_earned_through(a, s, e, b, ts, te, d)
    FROM unnest(:a, :s, :e, :b, :ts, :te, :d) WITH ORDINALITY AS c(a, s, e, b, ts, te, d, n)
    ORDER BY n
    """
).bindparams(
    bindparam("a", type_=ARRAY(Numeric)),
    bindparam("b", type_=ARRAY(String)),
    *(bindparam(name, type_=ARRAY(Date)) for name in ("s", "e", "ts", "te", "d")),
)


async def in_sql(session: AsyncSession, cases: list[Case]) -> list[Decimal]:
    assert all(e.term is not None for e, _ in cases)
    rows = await session.scalars(
        _EVALUATE,
        {
            "a": [e.amount for e, _ in cases],
            "s": [e.start for e, _ in cases],
            "e": [e.end for e, _ in cases],
            "b": [e.basis.value for e, _ in cases],
            "ts": [e.term[0] for e, _ in cases if e.term],
            "te": [e.term[1] for e, _ in cases if e.term],
            "d": [day for _, day in cases],
        },
    )
    return [Decimal(v) for v in rows]


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A piece inside its term and a day from before the term to after it. Terms start on any
    day (month ends weighted: Jan 31, Feb 29, Aug 30), run whole months (the months basis
    applies) or any number of days (it falls back to days); pieces may be instant (start ==
    end), start mid-term (an endorsement) or end early (a cancellation); amounts are negative
    (a return) or positive."""
    year = draw(st.integers(2023, 2029))
    month = draw(st.integers(1, 12))
    day = draw(st.sampled_from([1, 15, 28, 29, 30, 31]) | st.integers(1, 31))
    while True:
        try:
            term_start = date(year, month, day)
            break
        except ValueError:
            day -= 1
    if draw(st.booleans()):
        term_end = add_months(term_start, draw(st.sampled_from([1, 6, 12]) | st.integers(1, 24)))
    else:
        term_end = term_start + timedelta(days=draw(st.integers(1, 800)))
    length = (term_end - term_start).days
    offset = draw(st.sampled_from([0]) | st.integers(0, length))
    span = draw(st.sampled_from([0, length - offset]) | st.integers(0, length - offset))
    start = term_start + timedelta(days=offset)
    amount = Decimal(draw(st.integers(-10_000_000, 10_000_000))) / 100
    basis = draw(st.sampled_from(list(Proration)))
    on = term_start + timedelta(days=draw(st.integers(-40, length + 40)))
    return Earning(amount, start, start + timedelta(days=span), basis, (term_start, term_end)), on


def months(amount: str, start: date, end: date, term: tuple[date, date], on: date) -> Case:
    return Earning(Decimal(amount), start, end, Proration.MONTHS, term), on


JAN31 = (date(2024, 1, 31), date(2025, 1, 31))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(cases(), min_size=1, max_size=40))
@example(  # a leap-year month-end term by months: Feb 29, Feb 28 2025, the last day, the end
    batch=[
        months("1200.00", *JAN31, JAN31, date(2024, 2, 28)),
        months("1200.00", *JAN31, JAN31, date(2024, 2, 29)),
        months("1200.00", *JAN31, JAN31, date(2024, 3, 30)),
        months("1200.00", date(2024, 7, 15), JAN31[1], JAN31, date(2024, 8, 31)),
        months("-333.33", date(2024, 7, 15), date(2024, 7, 15), JAN31, date(2024, 7, 15)),
        months("0.01", *JAN31, JAN31, date(2025, 1, 30)),
        months("100.00", *JAN31, JAN31, date(2025, 1, 29)),
    ]
)
async def test_the_sql_rule_earns_exactly_what_the_python_rule_does(
    session: AsyncSession, batch: list[Case]
) -> None:
    expected = [earning.earned_through(on) for earning, on in batch]
    assert await in_sql(session, batch) == expected


async def test_the_rule_is_inlined_into_the_query(session: AsyncSession) -> None:
    """A report sums the rule over a million pieces: inlined, it is an expression of the row;
    a function call per row (plpgsql, or SQL that does not inline) costs ten times more."""
    plan = await session.scalars(
        text(
            "EXPLAIN VERBOSE SELECT sum(pd_earned_through(amount, start_on, end_on, basis, "
            "term_start, term_end, DATE '2026-06-30')) FROM premium_earnings"
        )
    )
    output = "\n".join(plan)
    assert "pd_" not in output
    assert "date_part" in output  # the months basis, spelled out in the plan
