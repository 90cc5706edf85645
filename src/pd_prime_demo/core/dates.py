"""Business dates as requests may give them: within sane bounds, so that date arithmetic
(a term's end, a grace period, the day before a report) can never overflow, and a typo of the
year 9999 is refused with a pointer instead of reaching the books.

Strict, in bodies and query parameters alike: a date is ``YYYY-MM-DD`` and nothing else.
Pydantic on its own also takes a date and time at midnight (``2026-01-01T00:00:00``) and a
Unix timestamp (``1735689600``) as a date, and a timestamp as a moment; a client that sends
those has misread the contract, and guessing what it meant puts a wrong date on the books.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BeforeValidator, Field

EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# RFC 3339 section 5.6: a full date, "T" (or a space, which it allows), then the time.
_RFC3339_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}", re.ASCII)


def _calendar_date(value: object) -> object:
    """``YYYY-MM-DD`` text (parsed by the date type after this) or a ``date`` built in code;
    anything else is refused."""
    if isinstance(value, datetime):
        raise ValueError("must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise ValueError("must be a date as YYYY-MM-DD")


def _moment(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _RFC3339_START.match(value):
        return value
    raise ValueError("must be a moment in RFC 3339, such as 2026-01-01T09:30:00Z")


# Any calendar date, strictly YYYY-MM-DD (a date of birth bounds it its own way).
CalendarDate = Annotated[date, BeforeValidator(_calendar_date)]

# The bounds sit inside the strict check (on the date it lets through), so that the JSON
# schema stays a plain string of format date.
BusinessDate = Annotated[
    date,
    Field(ge=EARLIEST, le=LATEST, description="A calendar date, 1900-01-01 to 2199-12-31."),
    BeforeValidator(_calendar_date),
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
    BeforeValidator(_moment),
]

_FIRST_MOMENT = datetime(EARLIEST.year, 1, 1, tzinfo=UTC)
_END_OF_MOMENTS = datetime(LATEST.year + 1, 1, 1, tzinfo=UTC)


def in_range(moment: datetime) -> datetime:
    """``moment`` (aware) if it lies within the bounds of :data:`Moment`; ValueError if not."""
    if not _FIRST_MOMENT <= moment < _END_OF_MOMENTS:
        raise ValueError("a moment outside 1900-2199")
    return moment
