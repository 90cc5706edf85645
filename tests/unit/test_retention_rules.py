"""The pure rules of erasure and retention: what each record class becomes, and when a
customer's records are due."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from pd_prime_demo.privacy.retention_rules import (
    ART_17_3_B,
    ART_17_3_E,
    CustomerClock,
    Disposition,
    PersonFacts,
    RecordClass,
    RetentionClass,
    customer_due,
    due_quotes,
    erasure_plan,
    schedule,
    years_before,
)

TODAY = date(2034, 6, 1)
PERIODS = {
    p.record_class: p
    for p in schedule(unbound_quote_years=3, prospect_years=3, former_insured_years=7)
}


def _clock(**overrides: object) -> CustomerClock:
    values: dict[str, object] = {
        "created_on": date(2026, 1, 1),
        "unbound_quote_expiries": (),
        "last_quote_expiry": None,
        "last_policy_end": None,
        "has_claim": False,
        "open_claim": False,
        "last_claim_closed": None,
    }
    values.update(overrides)
    return CustomerClock(**values)  # type: ignore[arg-type]


def _due(clock: CustomerClock) -> RetentionClass | None:
    return customer_due(
        clock,
        prospect=PERIODS[RetentionClass.PROSPECT],
        former_insured=PERIODS[RetentionClass.FORMER_INSURED],
        today=TODAY,
    )


def test_a_prospect_is_erased_outright() -> None:
    plan = erasure_plan(PersonFacts(has_policy=False, has_claim=False, has_user_account=True))
    assert plan[RecordClass.CUSTOMER].disposition is Disposition.ERASE
    assert plan[RecordClass.USER_ACCOUNT].disposition is Disposition.ERASE
    kept = {c for c, d in plan.items() if d.disposition is not Disposition.ERASE}
    assert kept == {RecordClass.AUDIT}, "only the audit chain (ids only) stays"


def test_an_insured_keeps_the_records_the_law_requires() -> None:
    plan = erasure_plan(PersonFacts(has_policy=True, has_claim=True, has_user_account=False))
    assert plan[RecordClass.CUSTOMER].disposition is Disposition.PSEUDONYMISE
    assert "state" in plan[RecordClass.CUSTOMER].kept_fields
    for kept in (RecordClass.POLICY, RecordClass.BILLING, RecordClass.DOCUMENT):
        assert plan[kept].disposition is Disposition.WITHHOLD
        assert ART_17_3_B in plan[kept].basis
    assert ART_17_3_E in plan[RecordClass.CLAIM].basis
    assert plan[RecordClass.CLAIM_PARTY].disposition is Disposition.PSEUDONYMISE
    assert plan[RecordClass.QUOTE_UNBOUND].disposition is Disposition.ERASE
    assert RecordClass.USER_ACCOUNT not in plan


@given(policy=st.booleans(), claim=st.booleans(), login=st.booleans())
def test_money_and_audit_are_never_erased(policy: bool, claim: bool, login: bool) -> None:
    plan = erasure_plan(PersonFacts(policy, claim, login))
    for record_class in (RecordClass.BILLING, RecordClass.AUDIT, RecordClass.POLICY):
        if record_class in plan:
            assert plan[record_class].disposition is not Disposition.ERASE
    assert all(d.basis for d in plan.values()), "every decision says why"


def test_a_prospect_is_due_years_after_their_last_quote() -> None:
    assert _due(_clock(last_quote_expiry=date(2031, 5, 31))) is RetentionClass.PROSPECT
    assert _due(_clock(last_quote_expiry=date(2031, 6, 2))) is None
    assert _due(_clock(created_on=date(2033, 1, 1))) is None, "no quote: from creation"


def test_a_former_insured_is_due_seven_years_after_the_last_end() -> None:
    assert _due(_clock(last_policy_end=date(2027, 5, 1))) is RetentionClass.FORMER_INSURED
    assert _due(_clock(last_policy_end=date(2027, 7, 1))) is None
    closed_late = _clock(
        last_policy_end=date(2027, 5, 1), has_claim=True, last_claim_closed=date(2030, 1, 1)
    )
    assert _due(closed_late) is None, "the later claim closing restarts the clock"


def test_an_open_claim_stops_the_clock() -> None:
    assert _due(_clock(last_policy_end=date(2020, 1, 1), has_claim=True, open_claim=True)) is None


def test_unbound_quotes_each_on_their_own_expiry() -> None:
    expiries = (date(2031, 1, 1), date(2031, 7, 1), date(2030, 1, 1))
    assert due_quotes(expiries, PERIODS[RetentionClass.UNBOUND_QUOTE], TODAY) == [0, 2]


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)), st.integers(1, 50))
def test_years_before_is_whole_years(day: date, years: int) -> None:
    earlier = years_before(day, years)
    assert earlier.year == day.year - years
    assert day - earlier >= timedelta(days=365 * years - 1)


def test_the_29th_of_february_falls_back() -> None:
    assert years_before(date(2028, 2, 29), 1) == date(2027, 2, 28)
