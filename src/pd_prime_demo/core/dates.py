"""Business dates as requests may give them: within sane bounds, so that date arithmetic
(a term's end, a grace period, the day before a report) can never overflow, and a typo of the
year 9999 is refused with a pointer instead of reaching the books."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field

EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)

BusinessDate = Annotated[
    date,
    Field(ge=EARLIEST, le=LATEST, description="A calendar date, 1900-01-01 to 2199-12-31."),
]
