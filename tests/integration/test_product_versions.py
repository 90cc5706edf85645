"""The products service other domains rate with: compiled versions by id and by date in force."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.products import service as products
from pd_prime_demo.products.models import ProductVersionStatus
from pd_prime_demo.products.shipped import shipped
from pd_prime_demo.rating.definition import ExactTable, ProductVersionDefinition

ON = date(2026, 3, 1)
ACTOR = Actor.system("test")


@contextmanager
def statements(engine: AsyncEngine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        if not args[2].startswith(("SAVEPOINT", "RELEASE")):  # the test's outer transaction
            seen.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def _draft(version: str, base_bi: str) -> dict[str, Any]:
    raw = shipped("personal_auto", "TX").model_dump(mode="json")
    raw["version"] = version
    for row in raw["tables"]["base_bi"]["rows"]:
        row["value"] = base_bi
    return raw


def _base_bi(definition: ProductVersionDefinition) -> Decimal:
    table = definition.tables["base_bi"]
    assert isinstance(table, ExactTable)
    return table.rows[0].value


async def test_the_version_in_force_comes_compiled_with_its_identity(runtime: Runtime) -> None:
    async with runtime.db.sessionmaker() as session:
        match await products.version_in_force(session, "personal_auto", "TX", ON):
            case Ok(compiled):
                pass
            case Err(error):
                pytest.fail(str(error))
        match await products.get_version(session, compiled.id):
            case Ok(row):
                pass
            case Err(error):
                pytest.fail(str(error))
    assert (compiled.id, compiled.content_hash) == (row.id, row.content_hash)
    assert row.status is ProductVersionStatus.ACTIVE  # read back as the enum
    assert (compiled.product_code, compiled.state, compiled.version) == (
        "personal_auto",
        "TX",
        "TX-2026.1",
    )
    assert compiled.definition == shipped("personal_auto", "TX")
    assert compiled.definition.policy_number_prefix == "PA"
    assert compiled.engine.definition is compiled.definition


async def test_no_version_in_force_is_a_pointed_error(runtime: Runtime) -> None:
    async with runtime.db.sessionmaker() as session:
        for args in (("personal_auto", "NY", ON), ("personal_auto", "TX", date(2025, 12, 31))):
            new = await products.version_in_force(session, *args)
            assert isinstance(new, Err)
            assert new.error.code == "quote.no_rate_version"
            assert new.error.errors[0].pointer == "#/effective_on"
        renewal = await products.version_in_force(
            session, "homeowners_ho3", "OH", date(2025, 6, 1), renewal=True
        )
        assert isinstance(renewal, Err)


async def test_a_compiled_version_by_id_and_an_unknown_id(runtime: Runtime) -> None:
    async with runtime.db.sessionmaker() as session:
        in_force = await products.version_in_force(session, "homeowners_ho3", "FL", ON)
        assert isinstance(in_force, Ok)
        by_id = await products.compiled_version(session, in_force.value.id)
        assert by_id is in_force.value  # the cache's entry, compiled once
        with pytest.raises(LookupError):
            await products.compiled_version(session, uuid.uuid4())


async def test_a_cache_hit_reads_the_row_without_its_definition(
    runtime: Runtime, engine: AsyncEngine
) -> None:
    async with runtime.db.sessionmaker() as session:
        warm = await products.version_in_force(session, "personal_auto", "OH", ON)
        assert isinstance(warm, Ok)
    async with runtime.db.sessionmaker() as session:
        with statements(engine) as seen:
            assert isinstance(
                await products.version_in_force(session, "personal_auto", "OH", ON), Ok
            )
        assert len(seen) == 1
        assert "definition" not in seen[0].split("FROM")[0]
    async with runtime.db.sessionmaker() as session:
        with statements(engine) as seen:
            await products.compiled_version(session, warm.value.id)
        assert len(seen) == 1
        assert "definition" not in seen[0].split("FROM")[0]


async def _upload(session: AsyncSession, raw: dict[str, Any]) -> uuid.UUID:
    match await products.upload_version(session, raw, actor=ACTOR):
        case Ok(row):
            assert row.status is ProductVersionStatus.DRAFT
            return row.id
        case Err(error):
            pytest.fail(str(error.errors))


async def test_a_replaced_draft_is_compiled_again(runtime: Runtime) -> None:
    async with runtime.db.sessionmaker() as session:
        version_id = await _upload(session, _draft("TX-draft.1", "300"))
        first = await products.compiled_version(session, version_id)
        assert first.version == "TX-draft.1"
        assert _base_bi(first.definition) == Decimal(300)
        replaced = await products.replace_draft(
            session, version_id, _draft("TX-draft.1", "345"), actor=ACTOR
        )
        assert isinstance(replaced, Ok)
        second = await products.compiled_version(session, version_id)
        assert second.content_hash != first.content_hash
        assert _base_bi(second.definition) == Decimal(345)
        approved = await products.transition(session, version_id, "approve", actor=ACTOR)
        assert isinstance(approved, Ok)
        assert approved.value.status is ProductVersionStatus.APPROVED
        active = await products.transition(session, version_id, "activate", actor=ACTOR)
        assert isinstance(active, Ok)
        assert active.value.status is ProductVersionStatus.ACTIVE
        assert await products.compiled_version(session, version_id) is second
