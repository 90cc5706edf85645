"""Business dates as requests may give them: within sane bounds, so that date arithmetic
(a term's end, a grace period, the day before a report) can never overflow, and a typo of the
year 9999 is refused with a pointer instead of reaching the books."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AwareDatetime, Field

EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)

BusinessDate = Annotated[
    date,
    Field(ge=EARLIEST, le=LATEST, description="A calendar date, 1900-01-01 to 2199-12-31."),
]

# A moment as requests may give it (``known_at``): with its zone, and within the same bounds,
# so that no zone can carry it past what the database and Python's datetime can hold.
Moment = Annotated[
    AwareDatetime,
    Field(
        ge=datetime(EARLIEST.year, 1, 1, tzinfo=UTC),
        lt=datetime(LATEST.year + 1, 1, 1, tzinfo=UTC),
        description="A moment in RFC 3339, with its offset, from 1900 to 2199 (UTC).",
    ),
]

_FIRST_MOMENT = datetime(EARLIEST.year, 1, 1, tzinfo=UTC)
_END_OF_MOMENTS = datetime(LATEST.year + 1, 1, 1, tzinfo=UTC)


def in_range(moment: datetime) -> datetime:
    """``moment`` (aware) if it lies within the bounds of :data:`Moment`; ValueError if not."""
    if not _FIRST_MOMENT <= moment < _END_OF_MOMENTS:
        raise ValueError("a moment outside 1900-2199")
    return moment
