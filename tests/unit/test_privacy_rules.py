"""The pure rules of data subject requests: deadlines and the state machine."""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pd_prime_demo.privacy.enums import Regime, RequestKind, RequestStatus
from pd_prime_demo.privacy.rules import (
    CLOSED_STATUSES,
    KINDS_BY_REGIME,
    add_months,
    due_on,
    extension_refusal,
    may_transition,
)

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (date(2026, 1, 31), date(2026, 2, 28)),  # no 31 February: the month's last day
        (date(2028, 1, 31), date(2028, 2, 29)),  # a leap year
        (date(2026, 1, 15), date(2026, 2, 15)),
        (date(2026, 3, 31), date(2026, 4, 30)),
        (date(2026, 12, 31), date(2027, 1, 31)),  # across the year
        (date(2026, 2, 28), date(2026, 3, 28)),
    ],
)
def test_gdpr_one_calendar_month(received: date, due: date) -> None:
    assert due_on(Regime.GDPR, received) == due


def test_gdpr_extension_is_two_further_months() -> None:
    assert due_on(Regime.GDPR, date(2026, 11, 30), extended=True) == date(2027, 2, 28)
    assert due_on(Regime.GDPR, date(2027, 11, 30), extended=True) == date(2028, 2, 29)
    assert due_on(Regime.GDPR, date(2026, 1, 10), extended=True) == date(2026, 4, 10)


def test_ccpa_45_days_and_once_45_more() -> None:
    assert due_on(Regime.CCPA, date(2026, 1, 1)) == date(2026, 2, 15)
    assert due_on(Regime.CCPA, date(2026, 1, 1), extended=True) == date(2026, 4, 1)
    assert due_on(Regime.CCPA, date(2028, 2, 1)) == date(2028, 3, 17)  # leap day counted


@given(days, st.integers(min_value=0, max_value=36))
def test_add_months_lands_in_the_right_month_never_past_its_end(day: date, months: int) -> None:
    later = add_months(day, months)
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == months
    last = calendar.monthrange(later.year, later.month)[1]
    assert later.day == min(day.day, last)


@given(days)
def test_deadlines_are_after_receipt_and_extensions_later_still(day: date) -> None:
    for regime in Regime:
        due, extended = due_on(regime, day), due_on(regime, day, extended=True)
        assert day < due < extended
    assert due_on(Regime.CCPA, day) - day == timedelta(days=45)
    assert 28 <= (due_on(Regime.GDPR, day) - day).days <= 31


@given(days, days)
def test_deadlines_are_monotone_in_receipt(a: date, b: date) -> None:
    early, late = min(a, b), max(a, b)
    for regime in Regime:
        assert due_on(regime, early) <= due_on(regime, late)


def test_the_state_machine() -> None:
    assert may_transition(RequestStatus.RECEIVED, RequestStatus.VERIFIED)
    assert may_transition(RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS)
    assert may_transition(RequestStatus.IN_PROGRESS, RequestStatus.COMPLETED)
    assert not may_transition(RequestStatus.RECEIVED, RequestStatus.COMPLETED)
    assert not may_transition(RequestStatus.RECEIVED, RequestStatus.IN_PROGRESS)
    for status in RequestStatus:
        if status not in CLOSED_STATUSES:
            assert may_transition(status, RequestStatus.REJECTED)
    for closed in CLOSED_STATUSES:
        assert not any(may_transition(closed, target) for target in RequestStatus)


def test_extension_once_while_open_before_the_first_deadline() -> None:
    due = date(2026, 2, 28)

    def refusal(
        status: RequestStatus = RequestStatus.VERIFIED, extended: bool = False, today: date = due
    ) -> str | None:
        found = extension_refusal(
            status=status, already_extended=extended, original_due_on=due, today=today
        )
        return None if found is None else found.code

    assert refusal() is None
    assert refusal(today=due + timedelta(days=1)) == "privacy.extension_too_late"
    assert refusal(extended=True) == "privacy.already_extended"
    assert refusal(status=RequestStatus.COMPLETED) == "privacy.request_closed"


def test_regimes_give_their_own_rights() -> None:
    assert RequestKind.OPT_OUT in KINDS_BY_REGIME[Regime.CCPA]
    assert RequestKind.OPT_OUT not in KINDS_BY_REGIME[Regime.GDPR]
    assert RequestKind.RESTRICTION not in KINDS_BY_REGIME[Regime.CCPA]
    assert RequestKind.ERASURE in KINDS_BY_REGIME[Regime.GDPR] & KINDS_BY_REGIME[Regime.CCPA]
