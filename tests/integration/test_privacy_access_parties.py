"""A person named as a party in someone else's claim (ix_claim_parties_customer_id): their
access answer holds that party row and nothing else of the other person's claim, and their
erasure pseudonymises that row only."""

from __future__ import annotations

import uuid

from httpx import AsyncClient
from sqlalchemy import text

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.privacy.service import access, erasure
from tests.claims_support import fresh, staff
from tests.factories import person
from tests.integration.test_privacy_access import a_person_with_history

ADMIN = Actor.system("privacy-tests")


async def test_a_witness_in_another_claim_gets_their_party_row_only(
    client: AsyncClient, runtime: Runtime
) -> None:
    other = await a_person_with_history(client, runtime)
    agent = await staff(client, runtime, Role.AGENT)
    created = await client.post(
        "/api/v1/customers", json=person(), headers=await fresh(client, agent)
    )
    assert created.status_code == 201, created.text
    witness = uuid.UUID(created.json()["id"])
    party_id = uuid.uuid4()
    async with runtime.db.unit_of_work() as session:
        # The claims API names only the insured by customer id; a witness who is also our
        # customer is linked as claims staff would link them.
        await session.execute(
            text(
                "INSERT INTO claim_parties (id, claim_id, role, name, injured, customer_id,"
                " created_at) VALUES (:id, :claim, 'witness', 'Wendy Witness', false, :c, :at)"
            ),
            {"id": party_id, "claim": other.claim["id"], "c": witness, "at": clock.now()},
        )
    async with runtime.db.sessionmaker() as session:
        export = await access.collect(session, witness, cipher=runtime.cipher)
    tables = {(r.table, r.record_id) for r in export.records}
    assert ("claim_parties", str(party_id)) in tables
    assert not any(r.table in {"claims", "claim_notes"} for r in export.records)
    assert other.claim["id"] not in {
        r.record_id for r in export.records if r.table != "claim_parties"
    }

    async with runtime.db.unit_of_work() as session:
        result = await erasure.erase(
            session, witness, actor=ADMIN, request_id=None, cipher=runtime.cipher
        )
    assert isinstance(result, Ok), result
    parties = {i.table: i for i in result.value.pseudonymised}
    assert parties["claim_parties"].record_ids == (str(party_id),)
    async with runtime.db.sessionmaker() as session:
        names: dict[str, str] = dict(
            (
                await session.execute(
                    text("SELECT id::text, name FROM claim_parties WHERE claim_id = :c"),
                    {"c": other.claim["id"]},
                )
            ).all()
        )
        owner = await session.scalar(
            text("SELECT customer_id::text FROM claims WHERE id = :c"), {"c": other.claim["id"]}
        )
    assert names[str(party_id)].startswith("Pseudonymised")
    assert all(not n.startswith("Pseudonymised") for k, n in names.items() if k != str(party_id))
    assert owner == str(other.customer_id), "the other person's claim is untouched"
