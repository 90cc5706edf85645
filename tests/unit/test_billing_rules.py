"""Fitting a term's installments to what it bills: nothing lost, nothing on a voided row."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pd_prime_demo.billing.rules import ScheduleRow, fit_schedule, installment_schedule

TODAY = date(2027, 3, 1)
money = st.decimals(min_value=Decimal("0"), max_value=Decimal("20000"), places=2)


@st.composite
def schedules(draw: st.DrawFn) -> list[ScheduleRow]:
    start = draw(st.dates(min_value=date(2026, 6, 1), max_value=date(2027, 6, 1)))
    plan = installment_schedule(
        draw(money), start, 12, draw(st.sampled_from(["monthly", "quarterly"])), Decimal(5)
    )
    invoiced = draw(st.integers(0, len(plan)))
    voided = draw(st.none() | st.dates(min_value=start, max_value=start + timedelta(days=365)))
    return [
        ScheduleRow(
            i.seq,
            i.due_on,
            i.amount,
            invoiced=n < invoiced,
            cancelled_on=voided if n >= invoiced and voided and i.due_on >= voided else None,
        )
        for n, i in enumerate(plan)
    ]


@given(
    rows=schedules(),
    target=money,
    cover_ends=st.none() | st.dates(date(2026, 6, 1), date(2028, 6, 1)),
)
def test_the_live_installments_bill_the_target_or_the_invoices_already_did(
    rows: list[ScheduleRow], target: Decimal, cover_ends: date | None
) -> None:
    fitted = fit_schedule(
        rows, target=target, cover_ends_on=cover_ends, today=TODAY, due_if_new=TODAY
    )
    live = [r for r in fitted.rows if r.cancelled_on is None]
    if fitted.added is not None:
        live.append(fitted.added)
    billed = sum((r.amount for r in live), Decimal(0))
    invoiced = sum((r.amount for r in rows if r.invoiced), Decimal(0))
    assert billed == max(target, invoiced), "every cent of the target sits on a live installment"
    assert all(r.amount >= 0 for r in live)
    assert [r for r in fitted.rows if r.invoiced] == [r for r in rows if r.invoiced]
    for before, after in zip(rows, fitted.rows, strict=True):
        if not before.invoiced and cover_ends is not None and before.due_on >= cover_ends:
            assert after.cancelled_on is not None, "cover ended before it fell due"


def test_a_reinstated_installment_comes_back_due_no_earlier_than_today() -> None:
    rows = [
        ScheduleRow(1, date(2027, 1, 1), Decimal("100.00"), invoiced=True),
        ScheduleRow(
            2, date(2027, 2, 1), Decimal("100.00"), invoiced=False, cancelled_on=date(2027, 1, 20)
        ),
        ScheduleRow(
            3, date(2027, 4, 1), Decimal("100.00"), invoiced=False, cancelled_on=date(2027, 1, 20)
        ),
    ]
    fitted = fit_schedule(
        rows, target=Decimal("301.00"), cover_ends_on=None, today=TODAY, due_if_new=TODAY
    )
    assert [(r.due_on, r.amount, r.cancelled_on) for r in fitted.rows[1:]] == [
        (TODAY, Decimal("100.50"), None),
        (date(2027, 4, 1), Decimal("100.50"), None),
    ]
    assert fitted.added is None


def test_the_rest_gets_a_new_installment_and_billing_too_much_voids_the_open_ones() -> None:
    rows = [ScheduleRow(1, date(2027, 1, 1), Decimal("100.00"), invoiced=True)]
    added = fit_schedule(
        rows, target=Decimal("130.00"), cover_ends_on=None, today=TODAY, due_if_new=TODAY
    )
    assert added.added == ScheduleRow(2, TODAY, Decimal("30.00"), invoiced=False)
    rows.append(ScheduleRow(2, date(2027, 6, 1), Decimal("50.00"), invoiced=False))
    credit = fit_schedule(
        rows, target=Decimal("80.00"), cover_ends_on=None, today=TODAY, due_if_new=TODAY
    )
    assert credit.rows[1].cancelled_on == TODAY
    assert credit.rows[1].amount == 0
    assert credit.added is None
