"""The framework's pure rules: periods and due-ness per frequency, the run hash, the sample."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pd_prime_demo.compliance.control import Evidence, Frequency
from pd_prime_demo.compliance.rules import (
    GENESIS_HASH,
    RunContent,
    draw_sample,
    evidence_name_ok,
    is_due,
    manifest_of,
    period_of,
    run_hash,
)

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
frequencies = st.sampled_from(list(Frequency))


@pytest.mark.parametrize(
    ("frequency", "start", "end"),
    [
        (Frequency.DAILY, datetime(2026, 12, 2), datetime(2026, 12, 3)),
        (Frequency.WEEKLY, datetime(2026, 11, 30), datetime(2026, 12, 7)),  # ISO week 49
        (Frequency.MONTHLY, datetime(2026, 12, 1), datetime(2027, 1, 1)),
        (Frequency.QUARTERLY, datetime(2026, 10, 1), datetime(2027, 1, 1)),
        (Frequency.ANNUALLY, datetime(2026, 1, 1), datetime(2027, 1, 1)),
    ],
)
def test_the_period_of_a_wednesday_in_december(
    frequency: Frequency, start: datetime, end: datetime
) -> None:
    period = period_of(frequency, datetime(2026, 12, 2, 23, 59, tzinfo=UTC))
    assert (period.start, period.end) == (start.replace(tzinfo=UTC), end.replace(tzinfo=UTC))


def test_periods_are_in_utc_whatever_the_zone_given() -> None:
    # 23:30 on 31 March in New York is already April in UTC: a new day, month and quarter.
    from zoneinfo import ZoneInfo

    moment = datetime(2026, 3, 31, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    assert period_of(Frequency.QUARTERLY, moment).start == datetime(2026, 4, 1, tzinfo=UTC)


@given(frequencies, moments)
def test_a_moment_lies_in_its_period_and_the_next_begins_where_it_ends(
    frequency: Frequency, moment: datetime
) -> None:
    period = period_of(frequency, moment)
    assert moment in period
    assert period_of(frequency, period.end).start == period.end
    assert period_of(frequency, period.end - timedelta(microseconds=1)) == period
    if frequency is Frequency.WEEKLY:
        assert period.start.weekday() == 0


@given(frequencies, moments, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=800)))
def test_due_once_per_period(frequency: Frequency, last: datetime, later: timedelta) -> None:
    now = last + later
    assert is_due(frequency, None, now)
    assert is_due(frequency, last, now) == (now >= period_of(frequency, last).end)


def _content(**changes: object) -> RunContent:
    base = RunContent(
        control_id="CC6.1-logical-access",
        criteria=("CC6.1",),
        frequency="daily",
        started_at=datetime(2026, 12, 2, 6, 5, tzinfo=UTC),
        finished_at=datetime(2026, 12, 2, 6, 5, 1, tzinfo=UTC),
        covers_from=datetime(2026, 12, 2, tzinfo=UTC),
        covers_to=datetime(2026, 12, 2, 6, 5, tzinfo=UTC),
        passed=True,
        reason="every route requires authentication",
        figures={"routes": 212},
        evidence=tuple(manifest_of([Evidence("routes.json", "application/json", b"[]")])),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "change",
    [
        {"passed": False},
        {"reason": "something else"},
        {"figures": {"routes": 213}},
        {"covers_to": datetime(2026, 12, 2, 6, 6, tzinfo=UTC)},
        {"criteria": ("CC6.2",)},
        {"evidence": tuple(manifest_of([Evidence("routes.json", "application/json", b"[1]")]))},
    ],
)
def test_the_hash_covers_every_field_and_the_predecessor(change: dict[str, object]) -> None:
    original = run_hash(GENESIS_HASH, _content())
    assert run_hash(GENESIS_HASH, _content(**change)) != original
    assert run_hash("1" * 64, _content()) != original
    assert run_hash(GENESIS_HASH, _content()) == original


def test_the_hash_does_not_depend_on_the_zone_a_time_is_written_in() -> None:
    from zoneinfo import ZoneInfo

    started = datetime(2026, 12, 2, 6, 5, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))
    assert run_hash(GENESIS_HASH, _content(started_at=started)) == run_hash(
        GENESIS_HASH, _content()
    )


@pytest.mark.parametrize(
    ("name", "ok"),
    [("routes.json", True), ("a-b_c.1.csv", True), ("../x", False), ("a/b", False),
     (".hidden", False), ("a..b", False), ("", False), ("x" * 121, False)],
)  # fmt: skip
def test_evidence_names_are_plain_file_names(name: str, ok: bool) -> None:
    assert evidence_name_ok(name) is ok


populations = st.lists(
    st.tuples(st.integers(1, 10**9), st.text("0123456789abcdef", min_size=64, max_size=64)),
    unique_by=lambda item: item[0],
    max_size=60,
)


@given(populations, st.integers(1, 30), st.text(min_size=1, max_size=20).filter(str.isascii))
def test_the_sample_is_a_reproducible_subset_of_its_size(
    population: list[tuple[int, str]], size: int, seed: str
) -> None:
    sample = draw_sample(seed, population, size)
    assert len(sample) == min(size, len(population))
    assert set(sample) <= {run_id for run_id, _ in population}
    assert draw_sample(seed, list(reversed(population)), size) == sample  # order-free
    assert draw_sample(seed, population, None) == sorted(run_id for run_id, _ in population)
