"""Tampering with the audit log as the database superuser, detected against signed checkpoints.

Each case is what a bare hash chain cannot see (issue 16): the last rows deleted, the table
truncated, a middle row deleted or a row edited with every later hash recomputed. The triggers
that refuse these are bypassed as a superuser would (``session_replication_role = replica``;
the truncate trigger disabled), and the data really commits: a database of its own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from pd_prime_demo.audit import service as audit
from pd_prime_demo.audit.anchoring import write_checkpoint
from pd_prime_demo.audit.models import AuditEntry
from pd_prime_demo.audit.partitions import ensure_partitions
from pd_prime_demo.audit.retention import RetentionRefusedError, apply_retention
from pd_prime_demo.audit.rules import GENESIS_HASH, ChainFields, entry_hash
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from pd_prime_demo.privacy.service.holds import held_resources
from tests.claims_support import bound_policy
from tests.factories import user_login

EVERY = 5


@pytest.fixture
def anchored(committed_runtime: Runtime, tmp_path: Path) -> Settings:
    """The runtime's settings with checkpoints under the test's own directory."""
    return committed_runtime.settings.model_copy(
        update={"data_dir": tmp_path, "audit_checkpoint_anchor_every": EVERY}
    )


async def append(runtime: Runtime, count: int) -> list[int]:
    async with runtime.db.unit_of_work() as session:
        for i in range(count):
            await audit.record(session, Actor.system("tests"), "test.event", "thing", str(i))
        return await audit.write_pending(session)


async def checkpoint(runtime: Runtime, settings: Settings) -> int:
    async with runtime.db.unit_of_work() as session:
        written = await write_checkpoint(session, settings)
    assert written is not None
    return written.checkpoint.head.id


async def verify(runtime: Runtime, settings: Settings | None) -> audit.ChainReport:
    async with runtime.db.sessionmaker() as session:
        return await audit.verify_chain(session, settings=settings)


async def as_superuser(runtime: Runtime, *statements: str) -> None:
    async with runtime.db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        for statement in statements:
            await conn.execute(text(statement))


async def rechain_from(conn: AsyncConnection, first_id: int) -> None:
    """Recompute the hash of every entry from ``first_id`` on, as an attacker covering an
    edit or a deletion would (audit.rules.entry_hash, the rule verification uses)."""
    prev = await conn.scalar(
        text("SELECT hash FROM audit_log WHERE id < :id ORDER BY id DESC LIMIT 1"),
        {"id": first_id},
    )
    prev = prev or GENESIS_HASH
    table = AuditEntry.__table__
    rows = (
        await conn.execute(select(table).where(table.c.id >= first_id).order_by(table.c.id))
    ).mappings()
    for row in list(rows):
        fields = ChainFields(
            **{name: row[name] for name in ChainFields.__dataclass_fields__},
        )
        new = entry_hash(prev, fields)
        await conn.execute(
            text("UPDATE audit_log SET prev_hash = :prev, hash = :hash WHERE id = :id"),
            {"prev": prev, "hash": new, "id": row["id"]},
        )
        prev = new


async def test_a_healthy_chain_verifies_against_its_checkpoints(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    await append(committed_runtime, 12)
    head = await checkpoint(committed_runtime, anchored)
    await append(committed_runtime, 3)
    report = await verify(committed_runtime, anchored)
    assert report.ok, report
    assert report.checkpoints_checked == 1
    assert report.latest_checkpoint == 1
    assert report.entries_after_checkpoint == 3
    assert report.warning is None
    async with committed_runtime.db.sessionmaker() as session:
        assert report.entries_checked == await audit.count_entries(session)
    assert audit.latest_checkpoint(anchored) is not None
    assert audit.latest_checkpoint(anchored).head.id == head  # type: ignore[union-attr]


async def test_deleting_the_last_rows_is_reported_with_the_missing_range(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    ids = await append(committed_runtime, 12)
    head = await checkpoint(committed_runtime, anchored)
    assert head == ids[-1]
    await as_superuser(committed_runtime, f"DELETE FROM audit_log WHERE id >= {ids[8]}")
    assert (await verify(committed_runtime, None)).ok, "a bare chain cannot see this"
    report = await verify(committed_runtime, anchored)
    assert not report.ok
    assert (report.missing_from_id, report.missing_through_id) == (ids[8], head)
    assert report.missing_count == 4
    assert report.reason == (
        f"entries {ids[8]}..{head} recorded by checkpoint 1 are missing (4 entries)"
    )
    # The API says the same to an auditor.
    committed_runtime.settings = anchored
    transport = ASGITransport(app=create_app(runtime=committed_runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        admin = await user_login(client, committed_runtime, Role.ADMIN)
        answer = (await client.post("/api/v1/audit/verification", headers=admin.headers)).json()
    assert answer["ok"] is False
    assert (answer["missing_from_id"], answer["missing_through_id"]) == (ids[8], head)
    assert answer["missing_count"] == 4
    assert answer["latest_checkpoint"] == 1


async def test_truncation_is_reported_even_with_a_fresh_chain_appended(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    ids = await append(committed_runtime, 7)
    head = await checkpoint(committed_runtime, anchored)
    # Every partition has its own TRUNCATE trigger; the replication role disables them all.
    # The attacker resets the head the append reads too (audit_chain_head, migration 0027):
    # new entries then start a chain of their own from the genesis hash that verifies by itself.
    await as_superuser(committed_runtime, "TRUNCATE audit_log", "DELETE FROM audit_chain_head")
    later = await append(committed_runtime, 2)
    assert later[0] > head
    assert (await verify(committed_runtime, None)).ok
    report = await verify(committed_runtime, anchored)
    assert not report.ok
    assert report.missing_through_id == head
    assert report.missing_from_id is not None
    assert report.missing_from_id <= ids[0]
    assert report.reason is not None
    assert "recorded by checkpoint 1 are missing" in report.reason


async def test_an_edit_with_every_later_hash_recomputed_is_located_between_anchors(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    ids = await append(committed_runtime, 23)
    await checkpoint(committed_runtime, anchored)
    target = ids[13]
    async with committed_runtime.db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(
            text("UPDATE audit_log SET resource_id = 'forged' WHERE id = :id"), {"id": target}
        )
        await rechain_from(conn, target)
    assert (await verify(committed_runtime, None)).ok, "the recomputed chain fits together"
    report = await verify(committed_runtime, anchored)
    assert not report.ok
    assert report.rewritten_after_id is not None
    assert report.rewritten_through_id is not None
    assert report.rewritten_after_id < target <= report.rewritten_through_id
    # Located to within one anchor interval.
    async with committed_runtime.db.sessionmaker() as session:
        between = await session.scalar(
            text("SELECT count(*) FROM audit_log WHERE id > :a AND id <= :b"),
            {"a": report.rewritten_after_id, "b": report.rewritten_through_id},
        )
    assert between is not None
    assert between <= EVERY
    assert report.first_bad_id == report.rewritten_through_id
    assert report.reason == (
        f"entry content rewritten at or before id {report.rewritten_through_id}, after id "
        f"{report.rewritten_after_id} (checkpoint 1 recorded another hash for "
        f"{report.rewritten_through_id})"
    )


async def test_a_middle_row_deleted_and_the_rest_rechained_is_a_count_mismatch(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    ids = await append(committed_runtime, 18)
    await checkpoint(committed_runtime, anchored)
    target = ids[6]
    async with committed_runtime.db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": target})
        await rechain_from(conn, target + 1)
    assert (await verify(committed_runtime, None)).ok
    report = await verify(committed_runtime, anchored)
    assert not report.ok
    assert report.missing_count == 1
    assert report.missing_from_id is not None
    assert report.missing_through_id is not None
    assert report.missing_from_id <= target <= report.missing_through_id
    assert report.missing_through_id - report.missing_from_id < EVERY
    # Whether the deleted entry was itself an anchor or lay between two, the report names it.
    assert report.reason is not None
    assert "missing" in report.reason
    assert report.first_bad_id == report.missing_from_id


async def test_a_row_deleted_without_rechaining_is_named_by_the_chain(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    ids = await append(committed_runtime, 6)
    await checkpoint(committed_runtime, anchored)
    await as_superuser(committed_runtime, f"DELETE FROM audit_log WHERE id = {ids[2]}")
    bare = await verify(committed_runtime, None)
    assert bare.first_bad_id == ids[3]
    assert bare.reason == "previous-hash link broken (an entry was removed or reordered)"
    # Against the checkpoint, the report names the removed entry itself, not its successor.
    report = await verify(committed_runtime, anchored)
    assert report.first_bad_id == report.missing_from_id == ids[2]
    assert report.missing_count == 1


async def test_truncation_without_resetting_the_head_breaks_the_bare_chain_too(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    await append(committed_runtime, 4)
    head = await checkpoint(committed_runtime, anchored)
    await as_superuser(committed_runtime, "TRUNCATE audit_log")
    later = await append(committed_runtime, 2)
    # The append reads the head from audit_chain_head: the new entries link to the removed one.
    bare = await verify(committed_runtime, None)
    assert bare.first_bad_id == later[0]
    report = await verify(committed_runtime, anchored)
    assert not report.ok
    assert report.missing_through_id == head


async def test_tampering_before_the_newest_checkpoint_is_found_across_checkpoints(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    first = await append(committed_runtime, 6)
    await checkpoint(committed_runtime, anchored)
    await append(committed_runtime, 6)
    await checkpoint(committed_runtime, anchored)
    async with committed_runtime.db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(
            text("UPDATE audit_log SET action = 'forged' WHERE id = :id"), {"id": first[1]}
        )
        await rechain_from(conn, first[1])
    report = await verify(committed_runtime, anchored)
    assert report.checkpoints_checked == 2
    assert report.rewritten_through_id is not None
    assert report.rewritten_through_id <= first[-1]


# --- retention: expired partitions dropped after a signed retention checkpoint ---

MARCH, APRIL = date(2015, 3, 10), date(2015, 4, 10)


async def append_at(
    runtime: Runtime, *days: date, about: tuple[str, str] | None = None
) -> list[int]:
    """Entries with an occurred_at long ago, appended as the commit hook would (each about a
    "thing", or all about the record ``about`` names)."""
    entries = [
        audit.chain_entry(
            ChainFields(
                occurred_at=datetime.combine(day, time(12), tzinfo=UTC),
                actor_kind="system",
                actor_id="tests",
                actor_role=None,
                action="test.old_event",
                resource_type=about[0] if about else "thing",
                resource_id=about[1] if about else str(i),
                request_id=None,
                changes={},
            )
        )
        for i, day in enumerate(days)
    ]
    append_sql = select(
        func.audit_chain_append(audit.AUDIT_CHAIN_LOCK, bindparam("entries", type_=JSONB))
    )
    async with runtime.db.unit_of_work() as session:
        return list((await session.scalars(append_sql, {"entries": entries})).all())


async def old_chain(runtime: Runtime) -> tuple[list[int], list[int]]:
    """A chain that begins in March and April 2015 (a March entry committing after an April
    one, as a transaction open over midnight would) and goes on today."""
    await as_superuser(runtime, "TRUNCATE audit_log", "DELETE FROM audit_chain_head")
    async with runtime.db.unit_of_work() as session:
        await ensure_partitions(session, today=MARCH, months_ahead=1)
    old = await append_at(runtime, MARCH, MARCH, APRIL, MARCH)
    return old, await append(runtime, 4)


async def test_retention_drops_expired_partitions_and_the_rest_still_verifies(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    old, recent = await old_chain(committed_runtime)
    await checkpoint(committed_runtime, anchored)
    # Only March is past seven years: its ids interleave with April's, so it waits.
    async with committed_runtime.db.unit_of_work() as session:
        early = await apply_retention(
            session, anchored, held=held_resources, today=date(2022, 4, 20)
        )
    assert early.purged == ()
    assert early.postponed == ("audit_log_y2015m03",)
    async with committed_runtime.db.unit_of_work() as session:
        run = await apply_retention(session, anchored, held=held_resources)
    (purge,) = run.purged
    assert purge.partitions == ("audit_log_y2015m03", "audit_log_y2015m04")
    assert (purge.through_id, purge.entries, purge.checkpoint) == (old[-1], 4, 2)
    async with committed_runtime.db.sessionmaker() as session:
        left = await session.scalar(text("SELECT min(id) FROM audit_log"))
        purges = (
            await session.scalars(
                text("SELECT changes FROM audit_log WHERE action = 'audit.retention_purged'")
            )
        ).all()
    assert left == recent[0]
    assert [p["entries"] for p in purges] == [3, 1]
    assert all(p["checkpoint"] == 2 for p in purges)
    report = await verify(committed_runtime, anchored)
    assert report.ok, report
    assert report.checkpoints_checked == 2
    assert report.entries_after_checkpoint == 2, "the two purge entries came after it"
    await checkpoint(committed_runtime, anchored)
    assert (await verify(committed_runtime, anchored)).ok
    async with committed_runtime.db.unit_of_work() as session:
        again = await apply_retention(session, anchored, held=held_resources)
    assert again.purged == ()


async def test_after_a_purge_a_later_tampering_is_still_detected(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    _, recent = await old_chain(committed_runtime)
    await checkpoint(committed_runtime, anchored)
    async with committed_runtime.db.unit_of_work() as session:
        assert (await apply_retention(session, anchored, held=held_resources)).purged
    head = await checkpoint(committed_runtime, anchored)
    await as_superuser(committed_runtime, f"DELETE FROM audit_log WHERE id >= {recent[2]}")
    report = await verify(committed_runtime, anchored)
    assert not report.ok
    assert (report.missing_from_id, report.missing_through_id) == (recent[2], head)
    # The purged stretch cannot be brought back either: the first entry must link to it.
    async with committed_runtime.db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(
            text("UPDATE audit_log SET prev_hash = :g WHERE id = :id"),
            {"g": GENESIS_HASH, "id": recent[0]},
        )
    relinked = await verify(committed_runtime, anchored)
    assert relinked.first_bad_id == recent[0]


async def test_retention_refuses_to_purge_a_chain_that_does_not_verify(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    old, _ = await old_chain(committed_runtime)
    await checkpoint(committed_runtime, anchored)
    await as_superuser(committed_runtime, f"DELETE FROM audit_log WHERE id = {old[1]}")
    async with committed_runtime.db.unit_of_work() as session:
        with pytest.raises(RetentionRefusedError, match="does not verify"):
            await apply_retention(session, anchored, held=held_resources)
    async with committed_runtime.db.sessionmaker() as session:
        assert await session.scalar(text("SELECT min(id) FROM audit_log")) == old[0]


async def test_a_legal_hold_keeps_the_partitions_that_concern_the_held_record(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    transport = ASGITransport(app=create_app(runtime=committed_runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        agent = await user_login(client, committed_runtime, Role.AGENT)
        admin = await user_login(client, committed_runtime, Role.ADMIN)
        made = await bound_policy(client, agent)
        await as_superuser(committed_runtime, "TRUNCATE audit_log", "DELETE FROM audit_chain_head")
        async with committed_runtime.db.unit_of_work() as session:
            await ensure_partitions(session, today=MARCH, months_ahead=1)
        await append_at(committed_runtime, MARCH, MARCH)
        await append_at(committed_runtime, APRIL, about=("policy", made.policy_id))
        await append(committed_runtime, 2)
        placed = await client.post(
            "/api/v1/privacy/holds",
            json={
                "scope": "policy",
                "subject_id": made.policy_id,
                "reason": "Preservation letter from claimant's counsel.",
                "matter_reference": "LIT-2015-004",
            },
            headers=admin.headers,
        )
        assert placed.status_code == 201, placed.text
        await checkpoint(committed_runtime, anchored)
        async with committed_runtime.db.unit_of_work() as session:
            run = await apply_retention(session, anchored, held=held_resources)
        # March alone could go, but April holds an entry about the held policy: a purge is a
        # prefix of the chain, so March goes and April stays.
        assert [p.partitions for p in run.purged] == [("audit_log_y2015m03",)]
        assert run.held == ("audit_log_y2015m04",)
        assert (await verify(committed_runtime, anchored)).ok
        released = await client.post(
            f"/api/v1/privacy/holds/{placed.json()['id']}/release",
            json={"note": "Settled"},
            headers=admin.headers,
        )
        assert released.status_code == 200, released.text
    async with committed_runtime.db.unit_of_work() as session:
        after = await apply_retention(session, anchored, held=held_resources)
    assert [p.partitions for p in after.purged] == [("audit_log_y2015m04",)]
    assert after.held == ()
    assert (await verify(committed_runtime, anchored)).ok
