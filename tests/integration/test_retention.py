"""The retention schedule as a job: a book of people, years later, swept in small chunks. A
prospect is erased, a former insured pseudonymised, an open claim and a legal hold stop the
clock, an expired unbound quote is deleted; a run cut short resumes where it stopped and
purges nothing twice; the ledger balances and the audit chain verifies after."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import text

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.privacy.enums import Channel, Regime, RequestKind
from pd_prime_demo.privacy.models import PrivacyExport
from pd_prime_demo.privacy.service import holds, requests, retention
from tests.claims_support import at, bound_policy, fresh, policyholder, staff
from tests.factories import auto_quote, person
from tests.integration.test_privacy_access import a_person_with_history

SWEEPER = Actor.system("retention-tests")


async def _prospect(client: AsyncClient, headers: dict[str, str]) -> uuid.UUID:
    created = await client.post("/api/v1/customers", json=person(), headers=headers)
    assert created.status_code == 201, created.text
    quoted = await client.post(
        "/api/v1/quotes", json=auto_quote(created.json()["id"]), headers=headers
    )
    assert quoted.status_code == 201, quoted.text
    return uuid.UUID(created.json()["id"])


async def _count(runtime: Runtime, sql: str, **params: object) -> int:
    async with runtime.db.sessionmaker() as session:
        return int(await session.scalar(text(sql), params) or 0)


async def test_the_schedule_years_later_in_chunks(client: AsyncClient, runtime: Runtime) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    headers = await fresh(client, agent)
    prospect = await _prospect(client, headers)
    held = await _prospect(client, headers)
    insured = await a_person_with_history(client, runtime)  # a claim still open
    former = await bound_policy(client, await policyholder(client))
    former_id = uuid.UUID(former.customer_id)
    async with runtime.db.unit_of_work() as session:
        placed = await holds.place(
            session,
            holds.HoldRequest("customer", held, "Coverage dispute", "LIT-2026-100"),
            actor=SWEEPER,
        )
        assert isinstance(placed, Ok)
    ours = (prospect, held, insured.customer_id, former_id)

    settings = runtime.settings.model_copy(update={"privacy_retention_chunk": 2})
    later = clock.today() + timedelta(days=365 * 9)
    with at(later):
        first = await retention.run(
            runtime.db, settings, runtime.cipher, actor=SWEEPER, max_chunks=1
        )
        assert first.finished_at is None, "cut short after one chunk"
        assert first.chunks == 1
        assert first.progress["examined"] == 2
        resumed = await retention.run(runtime.db, settings, runtime.cipher, actor=SWEEPER)
    assert resumed.id == first.id, "the next run resumes the unfinished one"
    assert resumed.finished_at is not None
    assert resumed.chunks >= 2

    erased = {
        uuid.UUID(r)
        for r in (await _rows(runtime, "SELECT customer_id::text FROM privacy_erasures"))
    }
    assert prospect in erased, "a prospect is erased"
    assert former_id in erased, "a former insured is pseudonymised"
    assert held not in erased, "a legal hold stops retention"
    assert insured.customer_id not in erased, "an open claim stops the clock"
    reports = {
        uuid.UUID(c): o
        for c, o in await _pairs(
            runtime, "SELECT customer_id::text, report::text FROM privacy_erasures"
        )
    }
    assert json.loads(reports[prospect])["pseudonymised"] == []
    former_report = json.loads(reports[former_id])
    assert [i["table"] for i in former_report["pseudonymised"]] == ["customers"]
    assert "policies" in {i["table"] for i in former_report["withheld"]}
    for who in ours:
        assert await _count(
            runtime,
            "SELECT count(*) FROM audit_log WHERE action = 'privacy.erased' AND resource_id = :c",
            c=str(who),
        ) == (1 if who in erased else 0), "nothing is purged twice"

    assert (
        await _count(
            runtime,
            "SELECT count(*) FROM quotes WHERE id = :q",
            q=uuid.UUID(insured.unbound_quote_id),
        )
        == 0
    ), "an expired unbound quote is deleted"
    assert (
        await _count(runtime, "SELECT count(*) FROM quotes WHERE customer_id = :c", c=held) == 1
    ), "a held person's quote is kept"
    assert (
        await _count(runtime, "SELECT count(*) FROM policies WHERE customer_id = :c", c=former_id)
        == 1
    ), "the former insured's policy stays"
    async with runtime.db.sessionmaker() as session:
        assert (await billing.trial_balance(session)).balanced
        assert (await audit.verify_chain(session)).ok

    # A second full run finds nothing more to do about these people.
    with at(later + timedelta(days=1)):
        again = await retention.run(runtime.db, settings, runtime.cipher, actor=SWEEPER)
    assert again.id != first.id
    assert again.progress["erased"] == 0
    assert again.progress["pseudonymised"] == 0


async def test_nothing_is_due_today(client: AsyncClient, runtime: Runtime) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    prospect = await _prospect(client, await fresh(client, agent))
    done = await retention.run(runtime.db, runtime.settings, runtime.cipher, actor=SWEEPER)
    assert done.finished_at is not None
    assert (
        await _count(
            runtime, "SELECT count(*) FROM privacy_erasures WHERE customer_id = :c", c=prospect
        )
        == 0
    )


async def _rows(runtime: Runtime, sql: str) -> list[str]:
    async with runtime.db.sessionmaker() as session:
        return [str(v) for v in await session.scalars(text(sql))]


async def _pairs(runtime: Runtime, sql: str) -> list[tuple[str, str]]:
    async with runtime.db.sessionmaker() as session:
        return [(str(a), str(b)) for a, b in await session.execute(text(sql))]


async def test_access_answers_are_purged_after_their_ttl(
    client: AsyncClient, runtime: Runtime
) -> None:
    """privacy_export_ttl_days: an answer kept for download goes when it has served (Art.
    5(1)(e)); a recent one stays."""
    agent = await staff(client, runtime, Role.AGENT)
    prospect = await _prospect(client, await fresh(client, agent))
    ttl = timedelta(days=runtime.settings.privacy_export_ttl_days)
    async with runtime.db.unit_of_work() as session:
        ids = []
        for _ in range(2):
            opened = await requests.open_request(
                session,
                prospect,
                RequestKind.ACCESS,
                Regime.GDPR,
                channel=Channel.STAFF,
                actor=SWEEPER,
                cipher=runtime.cipher,
            )
            assert isinstance(opened, Ok), opened
            ids.append(opened.value.id)
        old, recent = ids
        for request_id, made in (
            (old, clock.now() - ttl - timedelta(hours=1)),
            (recent, clock.now()),
        ):
            session.add(
                PrivacyExport(
                    request_id=request_id,
                    format="json",
                    media_type="application/json",
                    content_enc=runtime.cipher.encrypt("e30=", context="test"),
                    sha256="0" * 64,
                    created_at=made,
                )
            )
    done = await retention.run(runtime.db, runtime.settings, runtime.cipher, actor=SWEEPER)
    assert done.progress["exports_deleted"] >= 1
    left = await _rows(
        runtime,
        f"SELECT request_id::text FROM privacy_exports WHERE request_id IN ('{old}', '{recent}')",
    )
    assert left == [str(recent)]
