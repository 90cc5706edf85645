"""Opaque keyset cursors: stable under concurrent inserts, unlike OFFSET paging."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, invalid


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), str(self.id)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor | None:
        """The cursor, or None when the token was not made by :meth:`encode`."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            created, ident = json.loads(raw)
            moment = datetime.fromisoformat(created)
            if moment.tzinfo is None:
                return None
            return cls(moment, uuid.UUID(ident))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
            return None


class Keyed(Protocol):
    created_at: datetime
    id: uuid.UUID


T = TypeVar("T", bound=Keyed)


async def keyset_page(
    session: AsyncSession,
    query: Select[T],
    entity: type[T],
    *,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[T], str | None], DomainError]:
    """One page of ``query`` in (created_at, id) order, after ``cursor``; and the next cursor."""
    created: Any = entity.created_at
    ident: Any = entity.id
    query = query.order_by(created, ident).limit(limit + 1)
    if cursor is not None:
        position = Cursor.decode(cursor)
        if position is None:
            return Err(invalid("pagination.bad_cursor", "the cursor is not valid"))
        query = query.where(tuple_(created, ident) > tuple_(position.created_at, position.id))
    rows = list((await session.scalars(query)).all())
    next_cursor = None
    if len(rows) > limit:
        next_cursor = Cursor(rows[limit - 1].created_at, rows[limit - 1].id).encode()
    return Ok((rows[:limit], next_cursor))
