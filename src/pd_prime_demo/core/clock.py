"""An injectable clock: all business time comes from here so tests can travel."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta

_now: ContextVar[Callable[[], datetime] | None] = ContextVar("pd_prime_clock", default=None)


def now() -> datetime:
    """Timezone-aware UTC now."""
    override = _now.get()
    return override() if override is not None else datetime.now(UTC)


def today() -> date:
    return now().date()


@contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    if moment.tzinfo is None:
        raise ValueError("frozen_at needs a timezone-aware datetime")
    token = _now.set(lambda: moment)
    try:
        yield
    finally:
        _now.reset(token)


@contextmanager
def shifted(by: timedelta) -> Iterator[None]:
    """The wall clock moved by ``by``, still running: a simulated day in a process of its own
    (``bench book`` runs each day's jobs so), where durations stay real."""
    token = _now.set(lambda: datetime.now(UTC) + by)
    try:
        yield
    finally:
        _now.reset(token)
