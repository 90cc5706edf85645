"""The queue's own rules: the retry schedule and the connection string it derives."""

from __future__ import annotations

from datetime import UTC, datetime

import procrastinate
import pytest

from pd_prime_demo.core.queue import STANDARD, Backoff, conninfo


def _job(attempts: int) -> procrastinate.jobs.Job:
    return procrastinate.jobs.Job(
        id=1, queue="q", lock=None, queueing_lock=None, task_name="t", attempts=attempts
    )


def test_backoff_follows_its_schedule_then_gives_up() -> None:
    backoff = Backoff((5, 300, 1800))
    error = RuntimeError("receiver down")
    now = datetime.now(UTC)
    decisions = [backoff.get_retry_decision(exception=error, job=_job(n)) for n in range(4)]
    seconds = [
        None if d is None or d.retry_at is None else round((d.retry_at - now).total_seconds())
        for d in decisions
    ]
    assert seconds[:3] == [5, 300, 1800]
    assert seconds[3] is None
    assert backoff.max_attempts == 4
    assert [backoff.is_last_attempt(n) for n in range(4)] == [False, False, False, True]


def test_the_standard_schedule_grows_and_gives_up_within_two_hours() -> None:
    # A page that cannot be drawn shows as failed to staff the same morning.
    assert 3600 < sum(STANDARD.schedule) < 2 * 3600
    assert list(STANDARD.schedule) == sorted(STANDARD.schedule)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+asyncpg://postgres@127.0.0.1:5432/pd_prime",
            "postgresql://postgres@127.0.0.1:5432/pd_prime",
        ),
        (
            "postgresql+asyncpg://postgres:s%40cret@db/pd?host=/run/pg",
            "postgresql://postgres:s%40cret@db/pd?host=%2Frun%2Fpg",
        ),
    ],
)
def test_conninfo_is_libpq_form(url: str, expected: str) -> None:
    assert conninfo(url) == expected
