"""Queries on published events (``outbox_events`` with a ``position``): the only module that
builds SQL on them for reading.

A page of the stream is a keyset on ``position``: ``ux_outbox_events_position`` for a reader
who sees every customer, ``ix_outbox_events_customer_id_position`` for one who sees a few.
The page and the head of the stream are read in one statement, so in one snapshot: a head
read later could count events committed after the page was read, and a reader resuming from
it would miss them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    bindparam,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.selectable import Subquery
from sqlalchemy.sql.visitors import replacement_traverse

from pd_prime_demo.core.outbox import OutboxEvent
from pd_prime_demo.events.catalogue import TypeFilter


@dataclass(frozen=True, slots=True)
class Published:
    position: int
    type: str
    occurred_at: datetime
    aggregate_type: str
    aggregate_id: str
    customer_id: uuid.UUID | None
    data: dict[str, Any]


_E = OutboxEvent
_COLUMNS = (
    _E.position,
    _E.topic,
    _E.occurred_at,
    _E.aggregate_type,
    _E.aggregate_id,
    _E.customer_id,
    _E.payload,
)


def _published(row: Any) -> Published:
    return Published(
        row.position,
        row.topic,
        row.occurred_at,
        row.aggregate_type,
        row.aggregate_id,
        row.customer_id,
        row.payload,
    )


@dataclass(frozen=True, slots=True)
class Scope:
    """The events a reader may see: those of ``customers`` (a subquery of ids) or of every
    customer, and with ``company`` those of no customer."""

    customers: Select[uuid.UUID] | None
    every_customer: bool
    company: bool

    def condition(self) -> ColumnElement[bool]:
        if self.every_customer and self.company:
            return true()
        own: ColumnElement[bool] | None = None
        if self.every_customer:
            own = _E.customer_id.is_not(None)
        elif self.customers is not None:
            own = _E.customer_id.in_(self.customers)
        if self.company:
            none = _E.customer_id.is_(None)
            return none if own is None else or_(own, none)
        return own if own is not None else false()


def _of_types(types: TypeFilter) -> ColumnElement[bool] | None:
    if types.everything:
        return None
    conditions: list[ColumnElement[bool]] = []
    if types.names:
        conditions.append(_E.topic.in_(sorted(types.names)))
    conditions += [_E.topic.startswith(f"{f}.", autoescape=True) for f in sorted(types.families)]
    return or_(*conditions)


def _rows(scope: Scope, conditions: list[ColumnElement[bool]], limit: int) -> Subquery:
    """The page's rows. A reader of a few customers (a policyholder, an agent's book) reads
    each customer's next events from ``(customer_id, position)`` and keeps the first
    ``limit`` of them all: the cost follows the book, not the age of the cursor, where a scan
    of the whole stream in position order would read every other customer's events too."""
    if scope.customers is None or scope.every_customer or scope.company:
        return (
            select(*_COLUMNS)
            .where(*conditions, scope.condition())
            .order_by(_E.position)
            .limit(limit)
            .subquery("page")
        )
    ids = scope.customers.subquery("visible")
    own = (
        select(*_COLUMNS)
        .where(*conditions, _E.customer_id == next(iter(ids.c)))
        .order_by(_E.position)
        .limit(limit)
        .lateral("own")
    )
    return (
        select(*own.c)
        .select_from(ids.join(own, true()))
        .order_by(own.c.position)
        .limit(limit)
        .subquery("page")
    )


async def page(
    session: AsyncSession,
    *,
    after: int,
    limit: int,
    types: TypeFilter,
    scope: Scope,
) -> tuple[list[Published], int]:
    """Up to ``limit`` visible events after ``after`` in position order, and the head of the
    stream (the newest position, 0 when none) in the same snapshot."""
    conditions = [_E.position.is_not(None), _E.position > after]
    if (typed := _of_types(types)) is not None:
        conditions.append(typed)
    head = (
        select(func.coalesce(func.max(_E.position), 0).label("head"))
        .where(_E.position.is_not(None))
        .cte("head")
    )
    rows = _rows(scope, conditions, limit)
    query = (
        select(head.c.head, *rows.c)
        .select_from(head.outerjoin(rows, true()))
        .order_by(rows.c.position)
    )
    result = (await session.execute(query)).all()
    found = [_published(row) for row in result if row.position is not None]
    return found, int(result[0].head) if result else 0


async def one(session: AsyncSession, position: int, *, scope: Scope) -> Published | None:
    query = select(*_COLUMNS).where(_E.position == position, scope.condition())
    row = (await session.execute(query)).one_or_none()
    return _published(row) if row is not None else None


async def head(session: AsyncSession) -> int:
    query = select(func.max(_E.position)).where(_E.position.is_not(None))
    return (await session.execute(query)).scalar_one() or 0


async def after(session: AsyncSession, position: int, *, limit: int) -> list[Published]:
    """Every event published after ``position`` (up to ``limit``), unfiltered: for the live
    updates' fan-out, which filters per connection."""
    query = (
        select(*_COLUMNS)
        .where(_E.position.is_not(None), _E.position > position)
        .order_by(_E.position)
        .limit(limit)
    )
    return [_published(row) for row in (await session.execute(query)).all()]


async def audiences(
    session: AsyncSession,
    visible_ids: Select[uuid.UUID],
    *,
    viewers: Sequence[uuid.UUID],
    customer_ids: Sequence[uuid.UUID],
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Which of ``customer_ids`` each of ``viewers`` may see, in one query for them all.

    ``visible_ids`` is the customers' visibility subquery of one viewer of a kind (an agent,
    a policyholder), whose viewer is the ``:viewer`` parameter (``customers.Visibility``). The
    parameter is replaced by a column of the viewers' list, so the subquery is correlated with
    every viewer at once: a batch of events costs one query however many sockets are open.
    """
    if not viewers or not customer_ids:
        return set()
    listed = (
        func.unnest(bindparam("viewers", list(viewers), type_=ARRAY(UUID(as_uuid=True))))
        .table_valued("viewer")
        .render_derived()
        .alias("viewers")
    )

    def correlate(element: Any, **_: Any) -> Any:
        if isinstance(element, BindParameter) and element.key == "viewer":
            return listed.c.viewer
        return None

    correlated = cast("Select[uuid.UUID]", replacement_traverse(visible_ids, {}, correlate))
    ids = correlated.subquery().lateral("visible")
    id_column = next(iter(ids.c))
    query = (
        select(listed.c.viewer, id_column)
        .select_from(listed.join(ids, true()))
        .where(id_column.in_(list(customer_ids)))
    )
    rows = await session.execute(query)
    return {(row[0], row[1]) for row in rows.all()}
