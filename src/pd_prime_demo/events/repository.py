"""Queries on published events (``outbox_events`` with a ``position``): the only module that
builds SQL on them for reading.

A page of the stream is a keyset on ``position``: ``ux_outbox_events_position`` for a reader
who sees every customer; for one who sees a book of customers, windows of positions read
either from that index or from ``ix_outbox_events_customer_id_position``, whichever costs
less (see ``_book_page``). The head of the stream is never read after the page: a head read
later could count events committed after the page was read, and a reader resuming from it
would miss them.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    false,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import replacement_traverse

from pd_prime_demo.core.outbox import OutboxEvent
from pd_prime_demo.events.catalogue import ADMIN_TYPES, INTERNAL_TYPES, OWNER_MEMBER, TypeFilter


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
    customer; with ``company`` those of no customer, except the admin types (notices about API
    clients), which it sees with ``admin``, or when ``owner`` is the user they are for. The
    internal types, no one."""

    customers: Select[uuid.UUID] | None
    every_customer: bool
    company: bool
    admin: bool = False
    owner: uuid.UUID | None = None

    def condition(self) -> ColumnElement[bool]:
        own: ColumnElement[bool] | None = None
        if self.every_customer:
            own = _E.customer_id.is_not(None)
        elif self.customers is not None:
            own = _E.customer_id.in_(self.customers)
        parts = [p for p in (own, self._none()) if p is not None]
        return and_(_E.topic.not_in(sorted(INTERNAL_TYPES)), or_(*parts) if parts else false())

    def _none(self) -> ColumnElement[bool] | None:
        """Which events of no customer."""
        if self.admin:
            return _E.customer_id.is_(None)
        kept: list[ColumnElement[bool]] = []
        if self.company:
            kept.append(_E.topic.not_in(sorted(ADMIN_TYPES)))
        if self.owner is not None:
            kept.append(_owned_by(self.owner))
        return and_(_E.customer_id.is_(None), or_(*kept)) if kept else None


def _owned_by(owner: uuid.UUID) -> ColumnElement[bool]:
    return and_(_E.topic.in_(sorted(ADMIN_TYPES)), _E.payload[OWNER_MEMBER].astext == str(owner))


def _of_types(types: TypeFilter) -> ColumnElement[bool] | None:
    if types.everything:
        return None
    conditions: list[ColumnElement[bool]] = []
    if types.names:
        conditions.append(_E.topic.in_(sorted(types.names)))
    conditions += [_E.topic.startswith(f"{f}.", autoescape=True) for f in sorted(types.families)]
    return or_(*conditions)


def _page_with_head(conditions: list[ColumnElement[bool]], scope: Scope, limit: int) -> Select[Any]:
    """A reader of every customer (or of the company's events): the page is the first
    ``limit`` rows of the position index that pass, read with the head in one statement."""
    head = (
        select(func.coalesce(func.max(_E.position), 0).label("head"))
        .where(_E.position.is_not(None))
        .cte("head")
    )
    rows = (
        select(*_COLUMNS)
        .where(*conditions, scope.condition())
        .order_by(_E.position)
        .limit(limit)
        .subquery("page")
    )
    return (
        select(head.c.head, *rows.c)
        .select_from(head.outerjoin(rows, true()))
        .order_by(rows.c.position)
    )


# A reader of a book of customers (an agent's, a policyholder's own) reads the stream in
# windows of positions, each the cheaper of two ways:
# - by position: the window's range of ``ux_outbox_events_position``, keeping the rows of the
#   book's customers (a semi-join); it costs the window's width;
# - by customer: each customer's events in the window from ``(customer_id, position)``, merged;
#   it costs a probe per customer, plus the book's events in the window.
# The first window spans a few pages' worth of positions, each next one wider by what the last
# one found (at least twice), until the page is full or the window reaches the head: a page
# costs about what the cursor advances over, bounded by the book's probes, so a replay from 0
# is linear in the stream, whatever the size of the book.
FIRST_WINDOW_PAGES = 4
PROBE_ROWS = 16  # one customer's probe (~6 us) costs about this many rows of a range scan
# A book whose customers' next events (up to a page each) make at most this many rows is read
# by customer up to the head in one statement (a policyholder, a small agency).
SMALL_BOOK_ROWS = 20_000
BOOK_COUNT_CAP = 1_000_000  # counting a book stops here: it is large either way


def _by_position(
    customers: Select[uuid.UUID], window: list[ColumnElement[bool]], limit: int
) -> Select[Any]:
    return (
        select(*_COLUMNS)
        .where(*window, _E.customer_id.in_(customers))
        .order_by(_E.position)
        .limit(limit)
    )


def _by_customer(
    customers: Select[uuid.UUID], window: list[ColumnElement[bool]], limit: int
) -> Select[Any]:
    ids = customers.subquery("visible")
    own = (
        select(*_COLUMNS)
        .where(*window, _E.customer_id == next(iter(ids.c)))
        .order_by(_E.position)
        .limit(limit)
        .lateral("own")
    )
    return select(*own.c).select_from(ids.join(own, true())).order_by(own.c.position).limit(limit)


async def _book_page(
    session: AsyncSession,
    customers: Select[uuid.UUID],
    conditions: list[ColumnElement[bool]],
    *,
    after: int,
    limit: int,
) -> tuple[list[Published], int]:
    # The head first, then the windows up to it: positions up to the head are all committed
    # (the relay numbers one transaction at a time) and never change, so the later statements
    # see all of them, and nothing visible lies between the page and the head it returns.
    counted = select(func.count()).select_from(customers.limit(BOOK_COUNT_CAP).subquery())
    newest = select(func.coalesce(func.max(_E.position), 0)).where(_E.position.is_not(None))
    head, book = (
        await session.execute(select(newest.scalar_subquery(), counted.scalar_subquery()))
    ).one()
    if after >= head:
        return [], int(head)
    if book * limit <= SMALL_BOOK_ROWS:  # a small book: by customer up to the head, at once
        rest = [*conditions, _E.position > after, _E.position <= head]
        rows = (await session.execute(_by_customer(customers, rest, limit))).all()
        return [_published(row) for row in rows], int(head)
    found: list[Published] = []
    async with _planned_for_each_window(session):
        low, width = after, FIRST_WINDOW_PAGES * limit
        while len(found) < limit and low < head:
            need = limit - len(found)
            by_customer = book * PROBE_ROWS <= width
            whole = by_customer and book * need <= SMALL_BOOK_ROWS
            high = head if whole else min(head, low + width)
            window = [*conditions, _E.position > low, _E.position <= high]
            query = (_by_customer if by_customer else _by_position)(customers, window, need)
            page = [_published(row) for row in (await session.execute(query)).all()]
            found += page
            # As wide as this window's density says the rest of the page needs, and at least
            # twice as wide: a sparse book soon reads by customer, whose cost is its probes.
            seen = len(page) or 0.25  # a window that found nothing: a quarter of an event
            width = max(2 * width, int((need - len(page)) * (high - low) / seen))
            low = high
    return found, int(head)


# Each window of a large book's page is planned for its own parameters, without JIT: a prepared
# statement otherwise settles on a generic plan after five runs, one for every book (an
# agency's thousands of customers or a policyholder's one) and every window's width (measured
# among a few large agencies: a page of one went from 20 ms to 70 ms on its sixth run); and a
# window read by customer is estimated costly enough for JIT, whose compiling (10-15 ms) never
# pays here.
_SETTINGS = {"plan_cache_mode": "force_custom_plan", "jit": "off"}
_SET = text(
    "SELECT was.plan_cache_mode, was.jit,"
    " set_config('plan_cache_mode', :plan_cache_mode, true), set_config('jit', :jit, true)"
    " FROM (SELECT current_setting('plan_cache_mode') AS plan_cache_mode,"
    " current_setting('jit') AS jit OFFSET 0) AS was"
)
_RESTORE = text(
    "SELECT set_config('plan_cache_mode', :plan_cache_mode, true), set_config('jit', :jit, true)"
)


@contextlib.asynccontextmanager
async def _planned_for_each_window(session: AsyncSession) -> AsyncIterator[None]:
    """The settings above while in the block (local to the transaction), as they were after
    it; after an error the transaction's rollback restores them."""
    row = (await session.execute(_SET, _SETTINGS)).one()
    yield
    await session.execute(_RESTORE, {"plan_cache_mode": row.plan_cache_mode, "jit": row.jit})


async def page(
    session: AsyncSession,
    *,
    after: int,
    limit: int,
    types: TypeFilter,
    scope: Scope,
) -> tuple[list[Published], int]:
    """Up to ``limit`` visible events after ``after`` in position order, and the head of the
    stream (the newest position, 0 when none) as read before or with them."""
    conditions: list[ColumnElement[bool]] = [_E.position.is_not(None)]
    if (typed := _of_types(types)) is not None:
        conditions.append(typed)
    if scope.customers is not None and not scope.every_customer and not scope.company:
        # The book's events are a customer's, which no internal type is: filtered all the same.
        conditions.append(_E.topic.not_in(sorted(INTERNAL_TYPES)))
        found, newest = await _book_page(
            session, scope.customers, conditions, after=after, limit=limit
        )
        if scope.owner is not None:
            found = await _with_notices(
                session, found, scope.owner, conditions, after=after, limit=limit, newest=newest
            )
        return found, newest
    query = _page_with_head([*conditions, _E.position > after], scope, limit)
    result = (await session.execute(query)).all()
    found = [_published(row) for row in result if row.position is not None]
    return found, int(result[0].head) if result else 0


async def _with_notices(
    session: AsyncSession,
    found: list[Published],
    owner: uuid.UUID,
    conditions: list[ColumnElement[bool]],
    *,
    after: int,
    limit: int,
    newest: int,
) -> list[Published]:
    """A book's page with its reader's notices about its own API clients merged in, read over
    the positions the page spans only (up to its last event when full, else up to the head)
    from the events of no customer: the page still costs about what it covers."""
    until = found[-1].position if len(found) == limit else newest
    query = (
        select(*_COLUMNS)
        .where(*conditions, _E.customer_id.is_(None), _owned_by(owner))
        .where(_E.position > after, _E.position <= until)
        .order_by(_E.position)
        .limit(limit)
    )
    notices = [_published(row) for row in (await session.execute(query)).all()]
    return sorted([*found, *notices], key=lambda e: e.position)[:limit] if notices else found


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
