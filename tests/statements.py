"""Counting the SQL statements a piece of code sends, by verb and table: how tests hold a path's
queries flat in the size of what it handles."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection

_TABLE = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE)\b.*?\b(?:FROM|INTO|UPDATE)\s+(\w+)", re.S)


@contextmanager
def statements(connection: AsyncConnection) -> Iterator[Counter[str]]:
    """Every statement sent on ``connection`` meanwhile, as "VERB table"."""
    seen: Counter[str] = Counter()

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        found = _TABLE.match(statement)
        seen[f"{found[1]} {found[2]}" if found else statement.split()[0]] += 1

    sync = connection.sync_connection
    assert sync is not None
    event.listen(sync, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", record)
