"""Incremental verification (issue 19): a run walks only the entries after the head the last
successful run recorded in the signed verified marker; tampering after it is caught by that
walk, tampering before it by a full walk (``--full``, the integrity job's weekly run); a marker
that does not verify is reported. The data really commits: a database of its own.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from httpx import ASGITransport, AsyncClient
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from typer.testing import CliRunner

from pd_prime_demo import cli
from pd_prime_demo.audit import service as audit
from pd_prime_demo.audit.anchoring import write_checkpoint
from pd_prime_demo.audit.checkpoints import checkpoint_dir, file_name
from pd_prime_demo.audit.models import AuditEntry
from pd_prime_demo.audit.partitions import ensure_partitions
from pd_prime_demo.audit.retention import apply_retention
from pd_prime_demo.audit.rules import ChainFields, entry_hash
from pd_prime_demo.audit.verified import marker_path, read_marker, signed_marker
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.checkpoint_keys import key_id, load_checkpoint_keys
from pd_prime_demo.core.config import Settings, get_settings
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from pd_prime_demo.operations.integrity import run_checks
from pd_prime_demo.privacy.service.holds import held_resources
from tests.factories import user_login

EVERY = 5


@pytest.fixture
def anchored(committed_runtime: Runtime, tmp_path: Path) -> Settings:
    """The runtime's settings with checkpoints (and the marker) under the test's directory."""
    settings = committed_runtime.settings.model_copy(
        update={"data_dir": tmp_path, "audit_checkpoint_anchor_every": EVERY}
    )
    committed_runtime.settings = settings
    return settings


async def append(runtime: Runtime, count: int) -> list[int]:
    async with runtime.db.unit_of_work() as session:
        for i in range(count):
            await audit.record(session, Actor.system("tests"), "test.event", "thing", str(i))
        return await audit.write_pending(session)


async def checkpoint(runtime: Runtime, settings: Settings) -> None:
    async with runtime.db.unit_of_work() as session:
        assert await write_checkpoint(session, settings) is not None


async def verify(
    runtime: Runtime, settings: Settings, mode: audit.VerifyMode = "incremental"
) -> audit.ChainReport:
    async with runtime.db.sessionmaker() as session:
        return await audit.verify_chain(session, settings=settings, mode=mode)


async def count(runtime: Runtime) -> int:
    async with runtime.db.sessionmaker() as session:
        return await audit.count_entries(session)


async def edit_content(runtime: Runtime, entry_id: int) -> None:
    """A superuser's edit of one row's content, its stored hash left as it was."""
    async with runtime.db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(
            text("UPDATE audit_log SET action = 'forged' WHERE id = :id"), {"id": entry_id}
        )


async def verified_once(runtime: Runtime, settings: Settings) -> audit.ChainReport:
    """A chain with a checkpoint (which creates the signing key) and a first full run."""
    await append(runtime, 12)
    await checkpoint(runtime, settings)
    first = await verify(runtime, settings, "full")
    assert first.ok, first
    assert first.marker_written
    return first


async def test_an_incremental_run_walks_only_the_entries_appended_since(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    first = await verified_once(committed_runtime, anchored)
    total = await count(committed_runtime)
    assert (first.mode, first.entries_walked, first.walked_after_id) == ("full", total, 0)
    head = read_marker(anchored, load_checkpoint_keys(anchored)).marker
    assert head is not None
    assert head.head.n == total
    assert head.checkpoint_sequence == 1

    new = await append(committed_runtime, 7)
    report = await verify(committed_runtime, anchored)
    assert report.ok, report
    assert report.mode == "incremental"
    assert report.entries_walked == 7
    assert report.walked_after_id == head.head.id
    assert report.entries_checked == total + 7
    assert report.entries_after_checkpoint == 7
    assert report.previously_verified_at == head.verified_at

    again = await verify(committed_runtime, anchored)
    assert (again.ok, again.entries_walked, again.walked_after_id) == (True, 0, new[-1])
    assert again.entries_checked == total + 7


async def test_tampering_after_the_verified_head_is_caught_incrementally(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    await verified_once(committed_runtime, anchored)
    new = await append(committed_runtime, 6)
    await edit_content(committed_runtime, new[2])
    report = await verify(committed_runtime, anchored)
    assert not report.ok
    assert report.mode == "incremental"
    assert report.first_bad_id == new[2]
    assert report.entries_walked == 6
    marker = read_marker(anchored, load_checkpoint_keys(anchored)).marker
    assert marker is not None
    assert marker.head.id < new[0], "a failed run does not move the marker"


async def test_an_edit_before_the_verified_head_is_caught_by_a_full_run_and_weekly(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    await verified_once(committed_runtime, anchored)
    async with committed_runtime.db.engine.connect() as conn:
        victim = int(
            await conn.scalar(text("SELECT id FROM audit_log ORDER BY id OFFSET 3 LIMIT 1")) or 0
        )
    await edit_content(committed_runtime, victim)
    # What an incremental run does not re-prove: the row's hash was left alone, so its count,
    # its neighbours' links and the anchors are all as verified.
    quick = await verify(committed_runtime, anchored)
    assert (quick.mode, quick.entries_walked) == ("incremental", 0)
    full = await verify(committed_runtime, anchored, "full")
    assert not full.ok
    assert (full.first_bad_id, full.mode) == (victim, "full")
    # The integrity job runs "auto": incremental within the week, the full walk once the last
    # full one is a week old.
    assert {r.check: r.ok for r in await run_checks(committed_runtime.db, anchored)} == {
        "audit_chain": True,
        "ledger": True,
    }
    with clock.shifted(timedelta(days=7, minutes=1)):
        weekly = await verify(committed_runtime, anchored, "auto")
        results = await run_checks(committed_runtime.db, anchored)
    assert (weekly.mode, weekly.first_bad_id) == ("full", victim)
    assert {r.check: r.ok for r in results}["audit_chain"] is False


async def test_a_rewrite_after_the_newest_checkpoint_is_caught_by_the_marker(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    await verified_once(committed_runtime, anchored)
    new = await append(committed_runtime, 4)
    assert (await verify(committed_runtime, anchored)).ok
    # No checkpoint vouches for these entries yet: re-chained, they fit every checkpoint.
    async with committed_runtime.db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(
            text("UPDATE audit_log SET action = 'forged' WHERE id = :id"), {"id": new[1]}
        )
        await rechain_from(conn, new[1])
    report = await verify(committed_runtime, anchored)
    assert not report.ok
    assert report.mode == "full", "a stretch that changed is walked in full to locate it"
    assert report.rewritten_through_id == new[-1]
    assert report.rewritten_after_id is not None
    assert report.rewritten_after_id < new[1]
    assert "no longer holds the hash" in str(report.reason)


async def test_a_forged_or_edited_marker_is_rejected_and_everything_walked(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    await verified_once(committed_runtime, anchored)
    await append(committed_runtime, 3)
    total = await count(committed_runtime)
    path = marker_path(anchored)
    genuine = json.loads(path.read_bytes())

    # Moved on to the chain's head, to skip the walk, without the signing key.
    edited = json.loads(path.read_bytes())
    edited["verified"]["head"]["n"] += 3
    path.write_text(json.dumps(edited))
    report = await verify(committed_runtime, anchored)
    assert not report.ok
    assert report.marker_problem == "the verified marker's signature does not match its content"
    assert (report.mode, report.entries_walked, report.reason) == ("full", total, None)
    assert not report.marker_written, "a rejected marker is left for an operator to see"

    # Signed, but by a key the deployment does not trust.
    forger = Ed25519PrivateKey.generate()
    keys = load_checkpoint_keys(anchored)
    path.write_text(json.dumps(genuine))
    marker = read_marker(anchored, keys).marker
    assert marker is not None
    forged = signed_marker(replace(marker, key_id=key_id(forger.public_key())), forger)
    path.write_bytes(forged)
    report = await verify(committed_runtime, anchored)
    assert not report.ok
    assert "unknown key" in str(report.marker_problem)

    # A run with --full does not read the marker, and writes a fresh one.
    full = await verify(committed_runtime, anchored, "full")
    assert (full.ok, full.marker_problem, full.marker_written) == (True, None, True)
    assert (await verify(committed_runtime, anchored)).ok


async def test_a_removed_newest_checkpoint_is_caught_through_the_marker(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    await verified_once(committed_runtime, anchored)
    await append(committed_runtime, 6)
    await checkpoint(committed_runtime, anchored)
    assert (await verify(committed_runtime, anchored)).ok
    # Without the marker a trail ending at checkpoint 1 is a valid trail.
    (checkpoint_dir(anchored) / file_name(2)).unlink()
    report = await verify(committed_runtime, anchored)
    assert not report.ok
    assert "checkpoint 2" in str(report.checkpoint_problem)
    assert "is gone" in str(report.checkpoint_problem)


async def test_a_retention_purge_after_the_marker_keeps_the_run_incremental(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    """The marker's ordinal counts purged entries too: after a purge, the verified stretch is
    counted from the purge on and the run stays incremental."""
    async with committed_runtime.db.engine.begin() as conn:
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text("TRUNCATE audit_log"))
        await conn.execute(text("DELETE FROM audit_chain_head"))
    async with committed_runtime.db.unit_of_work() as session:
        await ensure_partitions(session, today=date(2015, 3, 1), months_ahead=1)
        old = await session.scalars(
            select(func.audit_chain_append(audit.AUDIT_CHAIN_LOCK, bindparam("e", type_=JSONB))),
            {"e": [_old_entry(date(2015, 3, 10 + i)) for i in range(3)]},
        )
        assert len(old.all()) == 3
    await append(committed_runtime, 5)
    await checkpoint(committed_runtime, anchored)
    assert (await verify(committed_runtime, anchored, "full")).marker_written
    marker = read_marker(anchored, load_checkpoint_keys(anchored)).marker
    assert marker is not None
    async with committed_runtime.db.unit_of_work() as session:
        run = await apply_retention(session, anchored, held=held_resources)
    assert [p.entries for p in run.purged] == [3]
    await append(committed_runtime, 2)
    report = await verify(committed_runtime, anchored)
    assert report.ok, report
    assert report.mode == "incremental"
    # The two entries appended, and retention's own audit entries of what it dropped.
    async with committed_runtime.db.engine.connect() as conn:
        after = await conn.scalar(
            text("SELECT count(*) FROM audit_log WHERE id > :id"), {"id": marker.head.id}
        )
    assert report.entries_walked == after
    assert after is not None
    assert after > 2
    assert report.entries_checked == await count(committed_runtime)


def _old_entry(day: date) -> dict[str, Any]:
    return audit.chain_entry(
        ChainFields(
            occurred_at=datetime.combine(day, time(12), tzinfo=UTC),
            actor_kind="system",
            actor_id="tests",
            actor_role=None,
            action="test.old_event",
            resource_type="thing",
            resource_id="old",
            request_id=None,
            changes={},
        )
    )


async def test_the_api_verifies_incrementally_with_the_old_fields_kept(
    committed_runtime: Runtime, anchored: Settings
) -> None:
    await verified_once(committed_runtime, anchored)
    transport = ASGITransport(app=create_app(runtime=committed_runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        admin = await user_login(client, committed_runtime, Role.ADMIN)
        total = await count(committed_runtime)
        answer = (await client.post("/api/v1/audit/verification", headers=admin.headers)).json()
    assert answer["ok"] is True, answer
    assert answer["mode"] == "incremental"
    assert answer["entries_checked"] == total
    assert 0 < answer["entries_walked"] < total, "only the login's entries were walked"
    for field in ("first_bad_id", "reason", "checkpoints_checked", "latest_checkpoint"):
        assert field in answer


async def rechain_from(conn: AsyncConnection, first_id: int) -> None:
    """Recompute every hash from ``first_id`` on, as an attacker covering an edit would."""
    prev = await conn.scalar(
        text("SELECT hash FROM audit_log WHERE id < :id ORDER BY id DESC LIMIT 1"),
        {"id": first_id},
    )
    table = AuditEntry.__table__
    rows = (
        await conn.execute(select(table).where(table.c.id >= first_id).order_by(table.c.id))
    ).mappings()
    for row in list(rows):
        fields = ChainFields(**{name: row[name] for name in ChainFields.__dataclass_fields__})
        new = entry_hash(prev, fields)
        await conn.execute(
            text("UPDATE audit_log SET prev_hash = :prev, hash = :hash WHERE id = :id"),
            {"prev": prev, "hash": new, "id": row["id"]},
        )
        prev = new


def test_the_cli_verifies_incrementally_and_in_full(cli_env: str) -> None:
    """``pd-prime audit verify`` walks from the marker; ``--full`` walks everything and finds
    an edit before it; a marker edited by hand is rejected (exit 1) until a full run."""
    runner = CliRunner()
    for command in (["migrate"], ["seed"], ["audit", "checkpoint"]):
        result = runner.invoke(cli.app, command)
        assert result.exit_code == 0, result.output
    total = _scalar(cli_env, "SELECT count(*) FROM audit_log")
    first = runner.invoke(cli.app, ["audit", "verify", "--full", "--parallel", "2"])
    assert first.exit_code == 0, first.output
    assert f"full: {total} entries walked" in first.output
    again = runner.invoke(cli.app, ["audit", "verify"])
    assert again.exit_code == 0, again.output
    assert "incremental: 0 entries walked" in again.output

    actor = _scalar(cli_env, "SELECT actor_id FROM audit_log WHERE id = 3")
    _execute(cli_env, "UPDATE audit_log SET actor_id = 'someone-else' WHERE id = 3")
    assert runner.invoke(cli.app, ["audit", "verify"]).exit_code == 0
    broken = runner.invoke(cli.app, ["audit", "verify", "--full"])
    assert broken.exit_code == 1
    assert "BROKEN at entry 3" in broken.output
    _execute(cli_env, f"UPDATE audit_log SET actor_id = '{actor}' WHERE id = 3")
    assert runner.invoke(cli.app, ["audit", "verify", "--full"]).exit_code == 0, "restored"

    path = marker_path(get_settings())
    edited = json.loads(path.read_bytes())
    edited["verified"]["full"] = True
    edited["verified"]["last_full_at"] = "2999-01-01T00:00:00.000000+00:00"
    path.write_text(json.dumps(edited))
    rejected = runner.invoke(cli.app, ["audit", "verify"])
    assert rejected.exit_code == 1
    assert "verified marker REJECTED" in rejected.output
    assert runner.invoke(cli.app, ["audit", "verify", "--full"]).exit_code == 0
    assert runner.invoke(cli.app, ["audit", "verify"]).exit_code == 0


def _scalar(url: str, sql: str) -> Any:
    async def run() -> Any:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text(sql))).scalar_one()
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _execute(url: str, sql: str) -> None:
    """As a superuser who bypasses the triggers that refuse edits."""

    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("SET LOCAL session_replication_role = replica"))
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(run())
