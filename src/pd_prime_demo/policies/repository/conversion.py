"""Policies' queries for converting a book (``service.imports``): numbers and serials for a
chunk at once, and whole rows written in one statement per table."""

from __future__ import annotations

import typing
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, Table, bindparam, func, insert, select
from sqlalchemy import column as sql_column
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.policies.models import Policy, PolicyTransaction

IMPORTED = "imported"  # Policy.origin of a policy converted from another system


async def by_numbers(session: AsyncSession, numbers: Sequence[str]) -> list[Policy]:
    """The policies that have one of ``numbers`` (whoever may see them: numbers are unique)."""
    if not numbers:
        return []
    return list((await session.scalars(select(Policy).where(Policy.number.in_(numbers)))).all())


async def next_serials(session: AsyncSession, count: int) -> list[int]:
    """``count`` serials from policy_number_seq, in one round trip."""
    if count <= 0:
        return []
    serials = await session.scalars(
        select(func.nextval("policy_number_seq")).select_from(func.generate_series(1, count))
    )
    return [int(s) for s in serials]


async def visible_among(
    session: AsyncSession, ids: Sequence[uuid.UUID], *, visible_customers: Select[Any]
) -> set[uuid.UUID]:
    """Those of ``ids`` that name a customer among ``visible_customers``."""
    if not ids:
        return set()
    wanted = (
        func.unnest(bindparam("ids", type_=ARRAY(PG_UUID(as_uuid=True))))
        .table_valued(sql_column("id", PG_UUID(as_uuid=True)))
        .render_derived("wanted")
    )
    found = await session.scalars(
        select(wanted.c.id).where(wanted.c.id.in_(visible_customers)), {"ids": list(ids)}
    )
    return set(found)


async def insert_converted(
    session: AsyncSession, policies: list[dict[str, Any]], transactions: list[dict[str, Any]]
) -> None:
    """Converted policies and their transactions, whole rows in one statement per table."""
    if policies:
        await session.execute(insert(cast_table(Policy.__table__)), policies)
    if transactions:
        await session.execute(insert(cast_table(PolicyTransaction.__table__)), transactions)


def cast_table(table: Any) -> Table:
    """A mapped class's table, as Core's insert takes it (Core statements on the tables: the
    ORM has nothing to track in rows written whole)."""
    return typing.cast(Table, table)
