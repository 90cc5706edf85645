"""Signed checkpoints of the audit chain: written, chained, refused when forged, and read
through the API, the CLI and the worker's job."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from httpx import AsyncClient
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from typer.testing import CliRunner

from pd_prime_demo import cli
from pd_prime_demo.audit import service as audit
from pd_prime_demo.audit.anchoring import CheckpointRefusedError, write_checkpoint
from pd_prime_demo.audit.checkpoints import checkpoint_dir, file_name, parse_signed, write_file
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.checkpoint_keys import load_checkpoint_keys, public_pem
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.worker import queue_app, run_once
from tests.factories import user_login
from tests.integration.webhook_receiver import listening

KEY_SETTINGS = {"audit_checkpoint_anchor_every": 3}


@pytest.fixture
def anchored(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"data_dir": tmp_path, **KEY_SETTINGS})


def read(path: Path) -> bytes:
    return path.read_bytes()


def write(path: Path, content: bytes) -> None:
    path.write_bytes(content)


def remove(path: Path) -> None:
    path.unlink()


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


async def entries(session: AsyncSession, count: int) -> list[int]:
    for i in range(count):
        await audit.record(session, Actor.system("tests"), "test.event", "thing", str(i))
    return await audit.write_pending(session)


async def test_a_checkpoint_records_head_count_and_anchors_and_is_skipped_when_idle(
    session: AsyncSession, anchored: Settings
) -> None:
    ids = await entries(session, 7)
    written = await write_checkpoint(session, anchored)
    assert written is not None
    checkpoint = written.checkpoint
    total = await audit.count_entries(session)
    assert (checkpoint.sequence, checkpoint.head.id, checkpoint.entries) == (1, ids[-1], total)
    assert [a.n for a in checkpoint.anchors] == list(range(3, total, 3))
    assert checkpoint.previous_sha256 is None
    assert Path(written.path) == checkpoint_dir(anchored) / file_name(1)
    assert await write_checkpoint(session, anchored) is None, "nothing appended: none written"
    await entries(session, 1)
    second = await write_checkpoint(session, anchored)
    assert second is not None
    assert second.checkpoint.previous_sha256 is not None
    assert second.checkpoint.entries == total + 1
    assert (await audit.verify_chain(session, settings=anchored)).ok


async def test_checkpoints_are_never_overwritten(tmp_path: Path) -> None:
    write_file(tmp_path, 1, b"first")
    with pytest.raises(FileExistsError):
        write_file(tmp_path, 1, b"second")
    assert read(tmp_path / file_name(1)) == b"first"
    assert names(tmp_path) == [file_name(1)], "no temporary file left"


async def test_an_altered_checkpoint_file_is_reported(
    session: AsyncSession, anchored: Settings
) -> None:
    await entries(session, 2)
    written = await write_checkpoint(session, anchored)
    assert written is not None
    path = Path(written.path)
    document = json.loads(read(path))
    document["checkpoint"]["entries"] -= 1  # hiding a deleted entry
    document["checkpoint"]["head"]["n"] -= 1
    write(path, json.dumps(document).encode())
    report = await audit.verify_chain(session, settings=anchored)
    assert not report.ok
    assert report.checkpoint_problem == "checkpoint 1: its signature does not match its content"
    with pytest.raises(CheckpointRefusedError):
        await write_checkpoint(session, anchored)


async def test_a_deleted_or_replaced_checkpoint_file_is_reported(
    session: AsyncSession, anchored: Settings
) -> None:
    for _ in range(3):
        await entries(session, 1)
        assert await write_checkpoint(session, anchored) is not None
    directory = checkpoint_dir(anchored)
    first = read(directory / file_name(1))
    # Replaced by another validly signed checkpoint 1 (from the same key, another moment).
    remove(directory / file_name(1))
    await entries(session, 1)
    elsewhere = anchored.model_copy(update={"audit_checkpoint_dir": directory / "other"})
    other = await write_checkpoint(session, elsewhere)
    assert other is not None
    write(directory / file_name(1), read(Path(other.path)))
    replaced = await audit.verify_chain(session, settings=anchored)
    assert replaced.checkpoint_problem == (
        "checkpoint 1 was altered or replaced (checkpoint 2 recorded another SHA-256 for it)"
    )
    write(directory / file_name(1), first)
    assert (await audit.verify_chain(session, settings=anchored)).ok
    remove(directory / file_name(2))
    deleted = await audit.verify_chain(session, settings=anchored)
    assert deleted.checkpoint_problem == ("checkpoint 2 is missing (the next file is checkpoint 3)")
    assert deleted.checkpoints_checked == 1, "checkpoint 1 still holds and was checked"


async def test_a_checkpoint_signed_by_an_unknown_key_is_refused_and_a_retired_key_verifies(
    session: AsyncSession, anchored: Settings
) -> None:
    await entries(session, 2)
    old_key = Ed25519PrivateKey.generate()
    signed_by_old = anchored.model_copy(update={"audit_checkpoint_key": SecretStr(_pem(old_key))})
    assert await write_checkpoint(session, signed_by_old) is not None
    unknown = await audit.verify_chain(session, settings=anchored)
    assert unknown.checkpoint_problem is not None
    assert unknown.checkpoint_problem.startswith("checkpoint 1: signed by an unknown key")
    rotated = anchored.model_copy(update={"audit_checkpoint_public_keys": [public_pem(old_key)]})
    assert (await audit.verify_chain(session, settings=rotated)).ok
    await entries(session, 1)
    assert await write_checkpoint(session, rotated) is not None, "the new key continues"
    report = await audit.verify_chain(session, settings=rotated)
    assert report.ok
    assert report.checkpoints_checked == 2


def _pem(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


async def test_no_checkpoint_directory_verifies_as_before_with_a_warning(
    session: AsyncSession, anchored: Settings
) -> None:
    report = await audit.verify_chain(session, settings=anchored)
    assert report.ok
    assert report.warning == "no checkpoint directory yet: verified as a bare hash chain"
    assert report.latest_checkpoint is None
    assert not names(anchored.data_dir), "verifying writes nothing (no key, no directory)"


async def test_a_tampered_chain_is_not_checkpointed(
    session: AsyncSession, anchored: Settings
) -> None:
    ids = await entries(session, 3)
    await session.execute(text("SET LOCAL session_replication_role = replica"))
    await session.execute(
        text("UPDATE audit_log SET action = 'forged' WHERE id = :id"), {"id": ids[1]}
    )
    await session.execute(text("SET LOCAL session_replication_role = origin"))
    with pytest.raises(CheckpointRefusedError, match=f"entry {ids[1]}"):
        await write_checkpoint(session, anchored)
    assert not checkpoint_dir(anchored).exists()


async def test_the_witness_webhook_receives_each_checkpoint_signed(
    session: AsyncSession, anchored: Settings
) -> None:
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    await entries(session, 2)
    async with listening() as receiver:
        receiver.secrets["/witness"] = [secret]
        witnessed = anchored.model_copy(
            update={
                "audit_checkpoint_webhook_url": receiver.url("/witness"),
                "audit_checkpoint_webhook_secret": SecretStr(secret),
            }
        )
        written = await write_checkpoint(session, witnessed)
        assert written is not None
        assert written.webhook_delivered is True
        (got,) = receiver.at("/witness")
        assert got.verified_with == [secret]
        file = base64.b64decode(got.message["data"]["file"])
        assert file == read(Path(written.path))
        assert parse_signed(file, load_checkpoint_keys(anchored)).sequence == 1
        receiver.behaviour["/witness"] = "fail"
        await entries(session, 1)
        failed = await write_checkpoint(session, witnessed)
    assert failed is not None
    assert failed.webhook_delivered is False
    assert read(Path(failed.path)), "a witness that fails loses no checkpoint"


async def test_the_api_returns_the_checks_and_lists_checkpoints_newest_first(
    client: AsyncClient, runtime: Runtime, session: AsyncSession, tmp_path: Path
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"data_dir": tmp_path, **KEY_SETTINGS})
    for _ in range(3):
        await entries(session, 1)
        assert await write_checkpoint(session, runtime.settings) is not None
    admin = await user_login(client, runtime, Role.ADMIN)
    verified = await client.post("/api/v1/audit/verification", headers=admin.headers)
    assert verified.status_code == 200
    body = verified.json()
    assert body["ok"] is True
    assert body["checkpoints_checked"] == 3
    assert body["latest_checkpoint"] == 3
    assert body["entries_after_checkpoint"] >= 0
    first = await client.get("/api/v1/audit/checkpoints?limit=2", headers=admin.headers)
    assert first.status_code == 200
    page = first.json()
    assert [c["sequence"] for c in page["items"]] == [3, 2]
    assert page["items"][0]["kind"] == "periodic"
    rest = await client.get(
        f"/api/v1/audit/checkpoints?limit=2&cursor={page['next_cursor']}",
        headers=admin.headers,
    )
    assert [c["sequence"] for c in rest.json()["items"]] == [1]
    assert rest.json()["next_cursor"] is None
    bad = await client.get("/api/v1/audit/checkpoints?cursor=nonsense", headers=admin.headers)
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


def test_the_cli_writes_a_checkpoint_and_verify_reports_against_it(cli_env: str) -> None:
    runner = CliRunner()
    assert runner.invoke(cli.app, ["migrate"]).exit_code == 0
    assert runner.invoke(cli.app, ["seed"]).exit_code == 0
    written = runner.invoke(cli.app, ["audit", "checkpoint"])
    assert written.exit_code == 0, written.output
    assert "checkpoint 1 written" in written.output
    again = runner.invoke(cli.app, ["audit", "checkpoint"])
    assert "nothing appended since the last checkpoint" in again.output
    verified = runner.invoke(cli.app, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "1 signed checkpoints verified, the newest checkpoint 1" in verified.output
    asyncio.run(_delete_last_row(cli_env))
    broken = runner.invoke(cli.app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "recorded by checkpoint 1 are missing (1 entries)" in broken.output
    assert "missing: ids" in broken.output


async def _delete_last_row(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(
                text("DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)")
            )
    finally:
        await engine.dispose()


async def test_the_worker_job_writes_a_checkpoint(
    committed_runtime: Runtime, tmp_path: Path
) -> None:
    committed_runtime.settings = committed_runtime.settings.model_copy(
        update={"data_dir": tmp_path}
    )
    app = queue_app(committed_runtime)
    assert "audit:checkpoint" in app.tasks
    await committed_runtime.queue.ready()
    await app.configure_task("audit:checkpoint").defer_async(timestamp=0)
    await run_once(committed_runtime)
    latest = audit.latest_checkpoint(committed_runtime.settings)
    assert latest is not None
    assert latest.sequence == 1
    async with committed_runtime.db.sessionmaker() as session:
        # The other jobs run_once ran may have appended entries since; the chain holds them.
        assert latest.entries <= await audit.count_entries(session)
        report = await audit.verify_chain(session, settings=committed_runtime.settings)
    assert report.ok, report
    assert report.latest_checkpoint == 1
