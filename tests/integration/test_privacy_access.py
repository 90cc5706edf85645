"""The right of access (GDPR Art. 15, 20; CCPA 1798.110): a person created across customers,
quotes, policies, billing and claims through the real services, and their export compared
field by field with what the database holds, read with plain SQL."""

from __future__ import annotations

import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text

from pd_prime_demo.claims import privacy as claims_privacy
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.database import Base
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers.schemas import REGISTRATION_EXAMPLE
from pd_prime_demo.privacy.enums import Purpose, Source
from pd_prime_demo.privacy.retention_rules import WITHHELD_BASIS, WithheldReason
from pd_prime_demo.privacy.service import access, consent
from tests.claims_support import (
    BoundPolicy,
    Policyholder,
    at,
    bound_policy,
    file_claim,
    fresh,
    loss_time,
    policyholder,
    staff,
)
from tests.factories import auto_quote

# Every table the person's data lives in, and how plain SQL finds their rows in it.
_ROWS_OF: dict[str, str] = {
    "customers": "SELECT * FROM customers WHERE id = :customer",
    "users": "SELECT * FROM users WHERE id = :user",
    "auth_sessions": "SELECT * FROM auth_sessions WHERE user_id = :user",
    "quotes": "SELECT * FROM quotes WHERE customer_id = :customer",
    "policies": "SELECT * FROM policies WHERE customer_id = :customer",
    "policy_transactions": "SELECT t.* FROM policy_transactions t JOIN policies p"
    " ON p.id = t.policy_id WHERE p.customer_id = :customer",
    "documents": "SELECT d.* FROM documents d JOIN policies p ON p.id = d.policy_id"
    " WHERE p.customer_id = :customer",
    "billing_accounts": "SELECT * FROM billing_accounts WHERE customer_id = :customer",
    "installments": "SELECT i.* FROM installments i JOIN policies p ON p.id = i.policy_id"
    " WHERE p.customer_id = :customer",
    "payments": "SELECT x.* FROM payments x JOIN policies p ON p.id = x.policy_id"
    " WHERE p.customer_id = :customer",
    "claims": "SELECT * FROM claims WHERE customer_id = :customer",
    "claim_parties": "SELECT cp.* FROM claim_parties cp JOIN claims c ON c.id = cp.claim_id"
    " WHERE c.customer_id = :customer",
    # Internal notes are withheld (listed under "withheld"): the person gets the others.
    "claim_notes": "SELECT n.* FROM claim_notes n JOIN claims c ON c.id = n.claim_id"
    " WHERE c.customer_id = :customer AND NOT n.internal",
    "consent_records": "SELECT * FROM consent_records WHERE customer_id = :customer",
}


@dataclass(frozen=True)
class PersonWithHistory:
    holder: Policyholder
    made: BoundPolicy
    unbound_quote_id: str
    claim: dict[str, Any]
    payment_id: str

    @property
    def customer_id(self) -> uuid.UUID:
        return uuid.UUID(self.holder.customer_id)


async def a_person_with_history(client: AsyncClient, runtime: Runtime) -> PersonWithHistory:
    """A self-registered policyholder with a policy they bound, a quote they never bound, a
    payment and a claim with a note: every domain holds something about them."""
    holder = await policyholder(client)
    made = await bound_policy(client, holder)
    headers = await fresh(client, holder)
    spare = await client.post(
        "/api/v1/quotes", json=auto_quote(holder.customer_id), headers=headers
    )
    assert spare.status_code == 201, spare.text
    paid = await client.post(
        f"{made.url}/payments",
        json={"amount": "25.00"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert paid.status_code == 201, paid.text
    day = made.inception + timedelta(days=31)
    with at(day):
        claim = await file_claim(
            client,
            await fresh(client, holder),
            made.policy_id,
            loss_at=loss_time(made.inception + timedelta(days=30)),
        )
        adjuster = await staff(client, runtime, Role.ADJUSTER)
        note = await client.post(
            f"/api/v1/claims/{claim['id']}/notes",
            json={"body": "Spoke with the insured about the rear bumper."},
            headers=await fresh(client, adjuster),
        )
        assert note.status_code == 201, note.text
    async with runtime.db.unit_of_work() as session:
        staff_actor = Actor.system("privacy-tests")
        notice = await consent.publish_notice(
            session,
            version=f"test-{uuid.uuid4().hex[:8]}",
            text="How we use your data.",
            url="https://example.com/privacy",
            actor=staff_actor,
        )
        assert isinstance(notice, Ok), notice
        granted = await consent.append(
            session,
            uuid.UUID(holder.customer_id),
            Purpose.MARKETING_EMAIL,
            granted=True,
            source=Source.PORTAL,
            actor=staff_actor,
        )
        assert isinstance(granted, Ok), granted
    return PersonWithHistory(holder, made, spare.json()["id"], claim, paid.json()["id"])


def _plain(value: object) -> object:
    """A database value as the export writes it."""
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def test_an_access_request_holds_every_datum_the_database_holds(
    client: AsyncClient, runtime: Runtime
) -> None:
    person = await a_person_with_history(client, runtime)
    async with runtime.db.sessionmaker() as session:
        export = await access.collect(
            session, person.customer_id, cipher=runtime.cipher, disclose_government_ids=True
        )
        user_id = await session.scalar(
            text("SELECT user_id FROM customers WHERE id = :c"), {"c": person.customer_id}
        )
        assert user_id is not None
        by_table: dict[str, dict[str, access.PersonalRecord]] = {}
        for record in export.records:
            by_table.setdefault(record.table, {})[record.record_id] = record
        for table, query in _ROWS_OF.items():
            rows = (
                await session.execute(
                    text(query), {"customer": person.customer_id, "user": user_id}
                )
            ).mappings()
            key = [c.name for c in Base.metadata.tables[table].primary_key]
            expected = {":".join(str(r[k]) for k in key): dict(r) for r in rows}
            assert set(by_table.get(table, {})) == set(expected), table
            for record_id, row in expected.items():
                fields = by_table[table][record_id].fields
                for column, value in row.items():
                    mapped = Base.metadata.tables[table].c[column]
                    if not access.exported(column, mapped.info, mapped.type):
                        continue  # binary content is listed, not embedded; secrets never
                    if column in claims_privacy.WITHHELD_FIELDS.get(table, {}):
                        assert column not in fields, (table, column)
                        continue
                    if column.endswith("_enc"):
                        name = column.removesuffix("_enc")
                        assert (fields[name] is None) == (value is None), (table, column)
                        assert value is None or not str(fields[name]).startswith("v1.")
                        continue
                    assert fields[column] == _plain(value), (table, column)
        secrets = list(
            await session.scalars(
                text(
                    "SELECT password_hash FROM users WHERE id = :u UNION ALL "
                    "SELECT token_hash FROM refresh_tokens r JOIN auth_sessions a "
                    "ON a.id = r.session_id WHERE a.user_id = :u"
                ),
                {"u": user_id},
            )
        )
    assert {
        "customers",
        "quotes",
        "policies",
        "billing_accounts",
        "claims",
        "consent_records",
    } <= export.tables()

    customer = by_table["customers"][str(person.customer_id)].fields
    assert customer["first_name"] == REGISTRATION_EXAMPLE["first_name"]
    # Encrypted fields come out opened: the person is entitled to them.
    for name in ("ssn", "date_of_birth", "drivers_license_number"):
        assert not str(customer.get(name, "")).startswith("v1."), name
    user = by_table["users"][str(user_id)].fields
    assert user["email"] == person.holder.email
    assert "password_hash" not in user
    assert person.payment_id in by_table["payments"]
    assert person.unbound_quote_id in by_table["quotes"]
    about_them = [r for r in export.records if r.table == "audit_log"]
    assert {r.fields["resource_id"] for r in about_them} >= {
        str(person.customer_id),
        person.made.policy_id,
        person.claim["id"],
    }

    # No secret leaves in any form.
    blob = export.as_json().decode()
    assert secrets
    for secret in secrets:
        assert secret not in blob
    assert person.holder.password not in blob

    # The two renderings carry the same data.
    parsed = json.loads(blob)
    assert len(parsed["records"]) == len(export.records)
    rows_csv = list(csv.DictReader(io.StringIO(export.as_csv().decode())))
    assert len(rows_csv) == sum(len(r.fields) for r in export.records) + len(export.withheld)
    first = next(r for r in rows_csv if r["table"] == "customers" and r["field"] == "first_name")
    assert first["value"] == REGISTRATION_EXAMPLE["first_name"]


async def test_an_unknown_person_has_an_empty_export(runtime: Runtime) -> None:
    async with runtime.db.sessionmaker() as session:
        export = await access.collect(session, uuid.uuid4(), cipher=runtime.cipher)
    assert export.records == ()


async def test_the_answer_withholds_the_claim_evaluation_and_says_why(
    client: AsyncClient, runtime: Runtime
) -> None:
    """Internal notes, reserves, coverage findings and fraud indicators never reach the
    person (claims.service.read's policyholder view): listed as withheld with the basis. A
    CCPA answer (the default) shows the government ids held and masked, never in full."""
    person = await a_person_with_history(client, runtime)
    async with runtime.db.sessionmaker() as session:
        export = await access.collect(session, person.customer_id, cipher=runtime.cipher)
        ssn = await session.scalar(
            text("SELECT ssn_enc FROM customers WHERE id = :c"), {"c": person.customer_id}
        )
        notes = await session.scalar(
            text("SELECT count(*) FROM claim_notes WHERE claim_id = :c AND internal"),
            {"c": person.claim["id"]},
        )
    assert notes, "the adjuster's note is internal"
    claim = next(r for r in export.records if r.record_id == person.claim["id"])
    assert "fraud_indicators" not in claim.fields
    assert "coverage_findings" not in claim.fields
    assert not any(r.table == "claim_notes" for r in export.records)
    withheld = {(w.table, w.field): w for w in export.withheld}
    fraud = withheld[("claims", "fraud_indicators")]
    assert fraud.reason is WithheldReason.FRAUD_INVESTIGATION
    assert withheld[("claims", "coverage_findings")].reason is WithheldReason.LEGAL_CLAIMS
    assert withheld[("claim_notes", None)].count == notes
    reserves = [r for r in export.records if r.table == "claim_transactions"]
    assert all("reserve_after" not in r.fields and r.fields["kind"] != "reserve" for r in reserves)
    if ssn is not None:
        customer = next(r for r in export.records if r.table == "customers")
        shown = customer.fields["ssn"]
        assert shown["held"] is True
        assert str(shown["masked"]).startswith("*")
        assert withheld[("customers", "ssn")].reason is WithheldReason.GOVERNMENT_ID
    parsed = json.loads(export.as_json())
    bases = {w["basis"] for w in parsed["withheld"]}
    assert WITHHELD_BASIS[WithheldReason.FRAUD_INVESTIGATION] in bases
    assert "Art. 15(4)" in WITHHELD_BASIS[WithheldReason.LEGAL_CLAIMS]
    # Nothing withheld appears anywhere in the answer.
    assert "Spoke with the insured" not in parsed.__repr__()
