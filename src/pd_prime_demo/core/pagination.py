"""Opaque keyset cursors: stable under concurrent inserts, unlike OFFSET paging.

Every list pages the same way: ``?limit=`` and ``?cursor=`` from the previous page's
``next_cursor``. A page is ordered by a unique key (by default ``(created_at, id)``); the
cursor holds the last row's key, so the next page starts after it whatever was inserted since.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from pd_prime_demo.core.dates import in_range
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, invalid

BAD_CURSOR = invalid("pagination.bad_cursor", "the cursor is not valid")


def _text(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


_BIGINT = 2**63 - 1


def _value(text: Any, kind: type) -> Any:
    """A key value from a cursor, refused (ValueError) unless the database can take it."""
    if kind is datetime:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            raise ValueError("a timestamp without a zone")
        # Year 1 in a far zone is year 0 in UTC, which the database cannot take.
        return in_range(moment)
    if kind is date:
        return date.fromisoformat(text)
    if kind is uuid.UUID:
        return uuid.UUID(text)
    if kind is int:
        number = int(text)
        if not -_BIGINT - 1 <= number <= _BIGINT:
            raise ValueError("beyond a 64-bit key")
        return number
    return str(text)


def encode(values: Sequence[Any]) -> str:
    raw = json.dumps([_text(v) for v in values]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str, kinds: Sequence[type]) -> list[Any] | None:
    """The key values a cursor holds, or None when the token was not made by :func:`encode`."""
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(raw, list) or len(raw) != len(kinds):
            return None
        return [_value(text, kind) for text, kind in zip(raw, kinds, strict=True)]
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        return None


class Keyed(Protocol):
    created_at: datetime
    id: uuid.UUID


T = TypeVar("T")


async def keyset_page(
    session: AsyncSession,
    query: Select[T],
    entity: type[Keyed] | None = None,
    *,
    cursor: str | None,
    limit: int,
    keys: Sequence[InstrumentedAttribute[Any]] | None = None,
    descending: bool = False,
) -> Result[tuple[list[T], str | None], DomainError]:
    """One page of ``query`` in ``keys`` order (``entity``'s (created_at, id) by default;
    newest first if ``descending``), after ``cursor``; and the next page's cursor, None on the
    last page."""
    columns: Sequence[Any] = keys or (entity.created_at, entity.id)  # type: ignore[union-attr]
    kinds = [column.type.python_type for column in columns]
    order = [column.desc() for column in columns] if descending else list(columns)
    query = query.order_by(*order).limit(limit + 1)
    if cursor is not None:
        position = decode(cursor, kinds)
        if position is None:
            return Err(BAD_CURSOR)
        key, after = tuple_(*columns), tuple_(*position)
        query = query.where(key < after if descending else key > after)
    rows = list((await session.scalars(query)).all())
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode([getattr(last, column.key) for column in columns])
    return Ok((rows[:limit], next_cursor))
