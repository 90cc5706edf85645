"""Product versions' queries: the only module that builds SQL on ``product_versions``.

The definition column is large and immutable once approved: the hot lookups (the version in
force, a version's header) defer it, and the compiled-engine cache reads it only on a miss.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Result
from pd_prime_demo.products.models import ProductVersion, ProductVersionStatus

_WITHOUT_DEFINITION = defer(ProductVersion.definition)


async def insert(session: AsyncSession, row: ProductVersion) -> None:
    session.add(row)
    await session.flush()


async def find_by_identity(
    session: AsyncSession, product_code: str, state: str, version: str
) -> ProductVersion | None:
    return await session.scalar(
        select(ProductVersion).where(
            ProductVersion.product_code == product_code,
            ProductVersion.state == state,
            ProductVersion.version == version,
        )
    )


async def get(
    session: AsyncSession, version_id: uuid.UUID, *, for_update: bool = False
) -> ProductVersion | None:
    """The whole row (with its definition); ``for_update`` locks it for a change."""
    return await session.get(ProductVersion, version_id, with_for_update=for_update)


async def get_header(session: AsyncSession, version_id: uuid.UUID) -> ProductVersion | None:
    """The row without its definition (the session's own copy when it holds one)."""
    return await session.get(ProductVersion, version_id, options=[_WITHOUT_DEFINITION])


async def definition_of(
    session: AsyncSession, version_id: uuid.UUID
) -> tuple[dict[str, Any], str] | None:
    """The definition with the hash it has now (a draft's may have changed since its row was
    read)."""
    row = (
        await session.execute(
            select(ProductVersion.definition, ProductVersion.content_hash).where(
                ProductVersion.id == version_id
            )
        )
    ).one_or_none()
    return None if row is None else (row.definition, row.content_hash)


async def list_versions(
    session: AsyncSession,
    *,
    product_code: str | None,
    state: str | None,
    status: ProductVersionStatus | None,
) -> list[ProductVersion]:
    query = select(ProductVersion).order_by(
        ProductVersion.product_code, ProductVersion.state, ProductVersion.effective_new_business
    )
    if product_code:
        query = query.where(ProductVersion.product_code == product_code)
    if state:
        query = query.where(ProductVersion.state == state)
    if status:
        query = query.where(ProductVersion.status == status)
    return list((await session.scalars(query)).all())


def _version_in_force(renewal: bool) -> Select[ProductVersion]:
    effective = (
        ProductVersion.effective_renewal if renewal else ProductVersion.effective_new_business
    )
    return (
        select(ProductVersion)
        .options(_WITHOUT_DEFINITION)
        .where(
            ProductVersion.product_code == bindparam("product_code"),
            ProductVersion.state == bindparam("state"),
            ProductVersion.status == ProductVersionStatus.ACTIVE,
            effective <= bindparam("on"),
        )
        .order_by(effective.desc())
        .limit(1)
    )


# Every quote selects its version: the two statements are built once.
_VERSION_IN_FORCE = {renewal: _version_in_force(renewal) for renewal in (False, True)}


async def in_force(
    session: AsyncSession, product_code: str, state: str, on: date, *, renewal: bool
) -> ProductVersion | None:
    """The active version with the latest effective date on or before ``on``."""
    row: ProductVersion | None = await session.scalar(
        _VERSION_IN_FORCE[renewal], {"product_code": product_code, "state": state, "on": on}
    )
    return row


async def page_versions(
    session: AsyncSession,
    *,
    product_code: str | None,
    state: str | None,
    status: ProductVersionStatus | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[ProductVersion], str | None], DomainError]:
    """A page of versions in the order they were uploaded."""
    query = select(ProductVersion).options(defer(ProductVersion.definition))
    if product_code:
        query = query.where(ProductVersion.product_code == product_code)
    if state:
        query = query.where(ProductVersion.state == state)
    if status:
        query = query.where(ProductVersion.status == status)
    return await keyset_page(session, query, ProductVersion, cursor=cursor, limit=limit)
