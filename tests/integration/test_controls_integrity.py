"""CC6.7 (encryption), CC8.1 (change management), PI1 (processing integrity) and the P-series
(request deadlines) against the real database: each passes on a healthy platform and fails,
naming what is wrong, when its condition is broken."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from httpx import AsyncClient
from sqlalchemy import Column, MetaData, String, Table, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.audit.anchoring import write_checkpoint
from pd_prime_demo.compliance.control import ControlContext
from pd_prime_demo.compliance.controls.change import CHANGE_MANAGEMENT, check_change
from pd_prime_demo.compliance.controls.encryption import ENCRYPTION, check_encryption
from pd_prime_demo.compliance.controls.integrity import PROCESSING_INTEGRITY
from pd_prime_demo.compliance.controls.privacy import PRIVACY_REQUESTS
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.config import Environment
from pd_prime_demo.core.database import migration_head
from pd_prime_demo.core.personal_data import Category, personal
from pd_prime_demo.core.runtime import Runtime
from tests.factories import person, register_and_login, user_login


def _ctx(session: AsyncSession, runtime: Runtime) -> ControlContext:
    return ControlContext(session=session, settings=runtime.settings, now=clock.now())


def _probe() -> MetaData:
    """A table of the data map's kind: a protected column, one JSON, one not protected."""
    metadata = MetaData()
    Table(
        "h4_pii_probe",
        metadata,
        Column("ssn_enc", String, info=personal(Category.GOVERNMENT_ID)),
        Column("claim_notes", JSONB, info=personal(Category.HEALTH, subject="claimant")),
        Column("full_name", String, info=personal(Category.IDENTITY)),
    )
    return metadata


async def _probe_table(session: AsyncSession) -> None:
    await session.execute(
        text("CREATE TEMP TABLE h4_pii_probe (ssn_enc text, claim_notes jsonb, full_name text)")
    )


async def test_ciphertext_in_every_protected_column_passes(
    session: AsyncSession, runtime: Runtime
) -> None:
    await _probe_table(session)
    cipher = runtime.cipher
    for n in range(3):
        await session.execute(
            text("INSERT INTO h4_pii_probe VALUES (:ssn, CAST(:notes AS jsonb), :name)"),
            {
                "ssn": cipher.encrypt(f"123-45-678{n}", context="probe"),
                "notes": json.dumps({"injury": cipher.encrypt("whiplash", context="probe")}),
                "name": "Ann Example",  # identity data: not a protected category
            },
        )
    outcome = await check_encryption(_ctx(session, runtime), _probe())
    assert outcome.passed, outcome.reason
    assert outcome.figures == {"protected_columns": 2, "plaintext_columns": 0}


async def test_a_plaintext_value_in_a_protected_column_fails_naming_the_column(
    session: AsyncSession, runtime: Runtime
) -> None:
    await _probe_table(session)
    await session.execute(
        text("INSERT INTO h4_pii_probe VALUES (:ssn, CAST(:notes AS jsonb), 'x')"),
        {
            "ssn": runtime.cipher.encrypt("123-45-6789", context="probe"),
            "notes": '{"injury": "whiplash"}',
        },
    )
    outcome = await check_encryption(_ctx(session, runtime), _probe())
    assert not outcome.passed
    assert "h4_pii_probe.claim_notes (1 of" in outcome.reason
    assert "ssn_enc" not in outcome.reason
    evidence = b"".join(e.content for e in outcome.evidence)
    assert b"whiplash" not in evidence, "a sampled value never reaches the evidence"


async def test_the_platforms_data_map_is_sampled_and_tls_is_evidenced(
    session: AsyncSession, runtime: Runtime
) -> None:
    outcome = await ENCRYPTION.test(_ctx(session, runtime))
    assert {e.name for e in outcome.evidence} == {"protected_columns.json", "tls.json"}
    assert outcome.figures["plaintext_columns"] == 0, outcome.reason


async def test_production_without_database_tls_fails(
    session: AsyncSession, runtime: Runtime
) -> None:
    await _probe_table(session)
    settings = runtime.settings.model_copy(
        update={
            "env": Environment.PRODUCTION,
            "database_url": "postgresql://app@db.internal:5432/pdprime",
        }
    )
    ctx = ControlContext(session=session, settings=settings, now=clock.now())
    outcome = await check_encryption(ctx, _probe())
    assert not outcome.passed
    assert "without TLS (sslmode unset" in outcome.reason
    secure = settings.model_copy(
        update={"database_url": "postgresql://app@db.internal:5432/pdprime?sslmode=verify-full"}
    )
    ctx = ControlContext(session=session, settings=secure, now=clock.now())
    assert (await check_encryption(ctx, _probe())).passed


async def test_the_database_at_the_releases_head_passes_cc8_1(
    session: AsyncSession, runtime: Runtime
) -> None:
    outcome = await CHANGE_MANAGEMENT.test(_ctx(session, runtime))
    assert outcome.passed, outcome.reason
    assert outcome.figures["applied"] == migration_head()


async def test_a_migration_behind_or_unknown_fails_cc8_1(
    session: AsyncSession, runtime: Runtime
) -> None:
    await session.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    behind = await CHANGE_MANAGEMENT.test(_ctx(session, runtime))
    assert not behind.passed
    assert "at migration 0001, release" in behind.reason
    assert f"expects {migration_head()}" in behind.reason
    unknown = await check_change(_ctx(session, runtime), release_head=None)
    assert not unknown.passed


@pytest.fixture
def anchored(runtime: Runtime, tmp_path: Path) -> Runtime:
    """Checkpoints of this test's own, in a directory of its own."""
    runtime.settings = runtime.settings.model_copy(update={"data_dir": tmp_path})
    return runtime


async def _checkpointed(session: AsyncSession, runtime: Runtime, count: int = 4) -> list[int]:
    for i in range(count):
        await audit.record(session, Actor.system("tests"), "test.event", "thing", str(i))
    ids = await audit.write_pending(session)
    assert await write_checkpoint(session, runtime.settings) is not None
    return ids


async def test_a_balanced_ledger_and_a_checkpointed_chain_pass_pi1(
    session: AsyncSession, anchored: Runtime
) -> None:
    unanchored = await PROCESSING_INTEGRITY.test(_ctx(session, anchored))
    assert not unanchored.passed
    assert "no signed checkpoint of the audit chain" in unanchored.reason
    await _checkpointed(session, anchored)
    outcome = await PROCESSING_INTEGRITY.test(_ctx(session, anchored))
    assert outcome.passed, outcome.reason
    assert outcome.figures["checkpoints_checked"] == 1


async def test_an_unbalanced_ledger_fails_pi1(
    session: AsyncSession, anchored: Runtime, connection: AsyncConnection
) -> None:
    await _checkpointed(session, anchored)
    # The balance trigger fires at commit, which the test's outer transaction never reaches.
    journal = await connection.scalar(
        text(
            "INSERT INTO ledger_journal (occurred_at, accounting_on, source, source_id, memo) "
            "VALUES (now(), current_date, 'test', 'x', 'unbalanced') RETURNING id"
        )
    )
    await connection.execute(
        text(
            "INSERT INTO ledger_lines (journal_id, account, debit, credit) "
            "VALUES (:j, 'cash', 10, 0)"
        ),
        {"j": journal},
    )
    outcome = await PROCESSING_INTEGRITY.test(_ctx(session, anchored))
    assert not outcome.passed
    assert "the ledger does not balance" in outcome.reason
    assert str(journal) in outcome.reason


async def test_a_tampered_audit_entry_fails_pi1(
    session: AsyncSession, anchored: Runtime, connection: AsyncConnection
) -> None:
    ids = await _checkpointed(session, anchored)
    await connection.execute(text("SET LOCAL session_replication_role = replica"))
    await connection.execute(
        text("UPDATE audit_log SET actor_id = 'someone-else' WHERE id = :id"), {"id": ids[1]}
    )
    await connection.execute(text("SET LOCAL session_replication_role = origin"))
    outcome = await PROCESSING_INTEGRITY.test(_ctx(session, anchored))
    assert not outcome.passed
    assert f"the audit chain does not verify at entry {ids[1]}" in outcome.reason


async def test_a_truncated_tail_the_checkpoint_vouched_for_fails_pi1(
    session: AsyncSession, anchored: Runtime, connection: AsyncConnection
) -> None:
    ids = await _checkpointed(session, anchored)
    # Deleting the newest entries leaves a bare chain intact: only the checkpoint tells.
    await connection.execute(text("SET LOCAL session_replication_role = replica"))
    await connection.execute(text("DELETE FROM audit_log WHERE id >= :id"), {"id": ids[-2]})
    await connection.execute(text("SET LOCAL session_replication_role = origin"))
    assert (await audit.verify_chain(session)).ok, "a bare chain sees nothing wrong"
    outcome = await PROCESSING_INTEGRITY.test(_ctx(session, anchored))
    assert not outcome.passed
    assert "missing" in outcome.reason


async def test_requests_within_their_deadline_pass_and_an_overdue_one_fails(
    client: AsyncClient, session: AsyncSession, runtime: Runtime
) -> None:
    assert (await PRIVACY_REQUESTS.test(_ctx(session, runtime))).passed
    email = f"dsr-{uuid.uuid4().hex[:8]}@example.com"
    headers = await register_and_login(client, email)
    made = await client.post(
        "/api/v1/privacy/requests", json={"kind": "access", "regime": "gdpr"}, headers=headers
    )
    assert made.status_code == 201, made.text
    outcome = await PRIVACY_REQUESTS.test(_ctx(session, runtime))
    assert outcome.passed, outcome.reason

    # Forty days on, the GDPR month (Art. 12(3)) has passed with the request unanswered.
    later = ControlContext(
        session=session, settings=runtime.settings, now=clock.now() + timedelta(days=40)
    )
    overdue = await PRIVACY_REQUESTS.test(later)
    assert not overdue.passed
    assert made.json()["id"] in overdue.reason
    assert email not in overdue.reason
    assert overdue.figures["open_overdue"] == 1


async def test_a_customer_created_through_the_api_is_stored_protected(
    client: AsyncClient, session: AsyncSession, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    made = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    assert made.status_code == 201, made.text
    outcome = await ENCRYPTION.test(_ctx(session, runtime))
    [columns] = [
        json.loads(e.content) for e in outcome.evidence if e.name == "protected_columns.json"
    ]
    found = {f"{c['table']}.{c['column']}": (c["sampled"], c["not_protected"]) for c in columns}
    for column in (
        "customers.ssn_enc",
        "customers.date_of_birth_enc",
        "customers.drivers_license_number_enc",
        "users.password_hash",
    ):
        sampled, not_protected = found[column]
        assert sampled >= 1, column
        assert not_protected == 0, column
