"""Erasure that understands insurance (GDPR Art. 17, CCPA 1798.105): a policyholder's erasure
leaves the policy readable as of any date, the ledger balanced and the audit chain verifiable;
a prospect is erased outright; a legal hold blocks it."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text

from pd_prime_demo.audit import service as audit
from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers.schemas import REGISTRATION_EXAMPLE
from pd_prime_demo.privacy.enums import Channel, Purpose, Regime, RequestKind
from pd_prime_demo.privacy.models import PrivacyExport
from pd_prime_demo.privacy.retention_rules import ART_17_3_B, ART_17_3_E
from pd_prime_demo.privacy.service import access, consent, erasure, holds, requests
from pd_prime_demo.privacy.service.erasure import ErasureReport
from tests.claims_support import at, cancel, fresh, staff
from tests.claims_workflow_support import move, url
from tests.factories import auto_quote, changing, login, person
from tests.integration.test_privacy_access import PersonWithHistory, a_person_with_history

ADMIN = Actor.system("privacy-tests")


async def _erase(runtime: Runtime, customer_id: uuid.UUID) -> ErasureReport:
    async with runtime.db.unit_of_work() as session:
        result = await erasure.erase(
            session, customer_id, actor=ADMIN, request_id=None, cipher=runtime.cipher
        )
        assert isinstance(result, Ok), result
        return result.value


async def _money(runtime: Runtime, policy_id: str) -> list[Any]:
    """Every amount the books hold for the policy: none may change."""
    async with runtime.db.sessionmaker() as session:
        rows = await session.execute(
            text(
                "SELECT 'line', l.account, l.debit, l.credit FROM ledger_lines l"
                " JOIN ledger_journal j ON j.id = l.journal_id WHERE j.policy_id = :p"
                " UNION ALL SELECT 'payment', x.id::text, x.amount, 0 FROM payments x"
                " WHERE x.policy_id = :p"
                " UNION ALL SELECT 'installment', i.id::text, i.amount, i.fee FROM installments i"
                " WHERE i.policy_id = :p ORDER BY 1, 2, 3, 4"
            ),
            {"p": policy_id},
        )
        return [tuple(r) for r in rows]


async def _ended(client: AsyncClient, runtime: Runtime, who: PersonWithHistory) -> date:
    """Close the claim and cancel the policy through the real services; the day after which
    the erasure may proceed."""
    day = who.made.inception + timedelta(days=40)
    with at(day):
        person = await staff(client, runtime, Role.ADJUSTER)
        adjuster = await fresh(client, person)
        assigned = await client.post(
            url(who.claim, "/assignment"),
            json={"adjuster_id": str(person.user_id), "reason": "privacy request"},
            headers=await changing(client, adjuster, url(who.claim)),
        )
        assert assigned.status_code == 200, assigned.text
        if assigned.json()["status"] != "open":
            opened = await move(client, adjuster, who.claim, status="open")
            assert opened.status_code == 200, opened.text
        closed = await move(
            client, adjuster, who.claim, status="closed", outcome="denied", reason="Withdrawn"
        )
        assert closed.status_code == 200, closed.text
        admin = await fresh(client, await staff(client, runtime, Role.ADMIN))
        await cancel(client, admin, who.made, day)
    return day


async def test_erasure_is_refused_while_a_policy_is_in_force_or_a_claim_open(
    client: AsyncClient, runtime: Runtime
) -> None:
    """GDPR Art. 17(1)(a), 17(3)(b), (e): the contract and a live claim still need the data."""
    who = await a_person_with_history(client, runtime)
    async with runtime.db.sessionmaker() as session:
        before = await session.scalar(
            text("SELECT row_to_json(c)::text FROM customers c WHERE id = :c"),
            {"c": who.customer_id},
        )
    with at(who.made.inception + timedelta(days=35)):
        async with runtime.db.unit_of_work() as session:
            refused = await erasure.erase(
                session, who.customer_id, actor=ADMIN, request_id=None, cipher=runtime.cipher
            )
    assert isinstance(refused, Err)
    assert refused.error.code == "privacy.erasure_deferred"
    assert refused.error.kind.value == "conflict"
    assert "Art. 17(1)(a)" in refused.error.detail
    assert "a claim is open" in refused.error.extra["reasons"]
    assert refused.error.extra["not_before"] is not None
    async with runtime.db.sessionmaker() as session:
        after = await session.scalar(
            text("SELECT row_to_json(c)::text FROM customers c WHERE id = :c"),
            {"c": who.customer_id},
        )
        erased = await session.scalar(
            text("SELECT count(*) FROM privacy_erasures WHERE customer_id = :c"),
            {"c": who.customer_id},
        )
    assert after == before, "a refused erasure changes nothing"
    assert erased == 0


async def test_erasing_a_policyholder_keeps_the_books_and_the_audit_chain(
    client: AsyncClient, runtime: Runtime
) -> None:
    who = await a_person_with_history(client, runtime)
    day = await _ended(client, runtime, who)
    admin = await staff(client, runtime, Role.ADMIN)
    money_before = await _money(runtime, who.made.policy_id)
    policy_before = (
        await client.get(
            who.made.url, params={"as_of": who.made.inception.isoformat()}, headers=admin.headers
        )
    ).json()

    with at(day + timedelta(days=1)):
        report = await _erase(runtime, who.customer_id)

    by_class = {(i.record_class.value, i.table): i for i in report.items}
    assert by_class[("quote_unbound", "quotes")].record_ids == (who.unbound_quote_id,)
    customer_item = by_class[("customer", "customers")]
    assert customer_item.disposition.value == "pseudonymise"
    assert {"first_name", "email", "ssn", "date_of_birth"} <= set(customer_item.replaced)
    assert "id" in customer_item.kept
    assert ART_17_3_B in customer_item.basis
    assert ART_17_3_E in by_class[("claim", "claims")].basis
    assert by_class[("policy", "policies")].record_ids == (who.made.policy_id,)
    assert {i.table for i in report.withheld} >= {"policies", "claims", "audit_log"}
    assert report.as_dict()["withheld"], "the report says what stayed and why"
    assert len(by_class[("marketing_consent", "consent_records")].record_ids) == 1

    async with runtime.db.sessionmaker() as session:
        row = (
            (
                await session.execute(
                    text("SELECT * FROM customers WHERE id = :c"), {"c": who.customer_id}
                )
            )
            .mappings()
            .one()
        )
        assert row["first_name"] != REGISTRATION_EXAMPLE["first_name"]
        assert row["email"].endswith("@erased.invalid")
        assert row["ssn_enc"] is None
        assert row["date_of_birth_enc"] is None
        assert row["address_line1"] != REGISTRATION_EXAMPLE["address"]["line1"]
        quotes = set(
            await session.scalars(
                text("SELECT id::text FROM quotes WHERE customer_id = :c"), {"c": who.customer_id}
            )
        )
        assert quotes == {who.made.quote["id"]}, "the unbound quote is gone, the bound one kept"
        parties = list(
            await session.scalars(
                text("SELECT name FROM claim_parties WHERE customer_id = :c"),
                {"c": who.customer_id},
            )
        )
        assert all(p.startswith("Pseudonymised") for p in parties)
        assert not await consent.current(session, who.customer_id, Purpose.MARKETING_EMAIL)
        grants = await session.scalar(
            text("SELECT count(*) FROM consent_records WHERE customer_id = :c AND granted"),
            {"c": who.customer_id},
        )
        assert grants == 1, "the grant stays in the ledger as proof; a withdrawal follows it"
        assert (await billing.trial_balance(session)).balanced
        assert (await audit.verify_chain(session)).ok
        # The audit chain names the erasure with ids only.
        changes = await session.scalar(
            text(
                "SELECT changes::text FROM audit_log WHERE action = 'privacy.erased'"
                " AND resource_id = :c"
            ),
            {"c": str(who.customer_id)},
        )
        assert changes is not None
        assert who.holder.email not in changes
        leftovers = await access.collect(session, who.customer_id, cipher=runtime.cipher)
    assert who.holder.email not in leftovers.as_json().decode()
    assert REGISTRATION_EXAMPLE["last_name"] not in leftovers.as_json().decode()

    assert await _money(runtime, who.made.policy_id) == money_before, "money is never touched"
    policy_after = await client.get(
        who.made.url, params={"as_of": who.made.inception.isoformat()}, headers=admin.headers
    )
    assert policy_after.status_code == 200
    assert policy_after.json()["number"] == policy_before["number"]
    assert policy_after.json()["terms"] == policy_before["terms"]
    # The login is gone: the old password no longer signs in.
    refused = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "password",
            "username": who.holder.email,
            "password": who.holder.password,
        },
    )
    assert refused.status_code in (400, 401)

    async with runtime.db.unit_of_work() as session:
        again = await erasure.erase(
            session, who.customer_id, actor=ADMIN, request_id=None, cipher=runtime.cipher
        )
    assert isinstance(again, Err)
    assert again.error.code == "privacy.already_erased"


async def test_a_prospect_is_erased_outright(client: AsyncClient, runtime: Runtime) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    headers = await fresh(client, agent)
    created = await client.post("/api/v1/customers", json=person(), headers=headers)
    assert created.status_code == 201, created.text
    customer_id = uuid.UUID(created.json()["id"])
    quoted = await client.post("/api/v1/quotes", json=auto_quote(str(customer_id)), headers=headers)
    assert quoted.status_code == 201, quoted.text
    # An earlier access answer kept for download: a copy of everything, erased with the rest.
    async with runtime.db.unit_of_work() as session:
        opened = await requests.open_request(
            session,
            customer_id,
            RequestKind.ACCESS,
            Regime.GDPR,
            channel=Channel.STAFF,
            actor=ADMIN,
            cipher=runtime.cipher,
        )
        assert isinstance(opened, Ok), opened
        session.add(
            PrivacyExport(
                request_id=opened.value.id,
                format="json",
                media_type="application/json",
                content_enc=runtime.cipher.encrypt("e30=", context="test"),
                sha256="0" * 64,
                created_at=clock.now(),
            )
        )

    report = await _erase(runtime, customer_id)

    exports = next(i for i in report.erased if i.table == "privacy_exports")
    assert exports.record_ids == (f"{opened.value.id}:json",)
    assert not report.pseudonymised
    assert {i.table for i in report.erased} >= {"customers", "quotes"}
    assert {i.table for i in report.withheld} == {"audit_log"}
    async with runtime.db.sessionmaker() as session:
        left = await session.scalar(
            text("SELECT count(*) FROM quotes WHERE customer_id = :c"), {"c": customer_id}
        )
        assert left == 0
        kept = await session.scalar(
            text("SELECT count(*) FROM privacy_exports WHERE request_id = :r"),
            {"r": opened.value.id},
        )
        assert kept == 0
        export = await access.collect(session, customer_id, cipher=runtime.cipher)
        assert (await audit.verify_chain(session)).ok
    customer = next(r for r in export.records if r.table == "customers").fields
    for name in ("ssn", "date_of_birth", "drivers_license_number", "phone", "address_line2"):
        assert customer[name] is None, name
    assert customer["first_name"] == "Erased"
    # Staff see it gone too: no 5xx, no trace of the person.
    read = await client.get(f"/api/v1/customers/{customer_id}", headers=headers)
    assert read.status_code in (200, 404)
    assert "Garcia" not in read.text


async def test_a_legal_hold_blocks_erasure_until_released(
    client: AsyncClient, runtime: Runtime
) -> None:
    who = await a_person_with_history(client, runtime)
    async with runtime.db.unit_of_work() as session:
        placed = await holds.place(
            session,
            holds.HoldRequest(
                scope="claim",
                subject_id=uuid.UUID(who.claim["id"]),
                reason="Subrogation suit anticipated",
                matter_reference="LIT-2026-014",
            ),
            actor=ADMIN,
        )
        assert isinstance(placed, Ok), placed
    async with runtime.db.unit_of_work() as session:
        assert [h.id for h in await holds.active_for(session, customer_id=who.customer_id)] == [
            placed.value.id
        ]
        blocked = await erasure.erase(
            session, who.customer_id, actor=ADMIN, request_id=None, cipher=runtime.cipher
        )
    assert isinstance(blocked, Err)
    assert blocked.error.code == "privacy.legal_hold"
    assert blocked.error.extra["holds"] == [str(placed.value.id)]
    tokens = await login(client, who.holder.email, who.holder.password)
    assert tokens["access_token"], "nothing was erased: the person still signs in"

    async with runtime.db.unit_of_work() as session:
        released = await holds.release(session, placed.value.id, note="Matter settled", actor=ADMIN)
        assert isinstance(released, Ok)
    async with runtime.db.unit_of_work() as session:
        twice = await holds.release(session, placed.value.id, note=None, actor=ADMIN)
        assert isinstance(twice, Err)
        assert twice.error.code == "privacy.hold_released"
    day = await _ended(client, runtime, who)
    with at(day + timedelta(days=1)):
        report = await _erase(runtime, who.customer_id)
    assert report.pseudonymised
