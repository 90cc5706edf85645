"""Data subject requests through the API: who may see what, verification by a code to the
address on file, the workflow's history and audit, and each kind's fulfilment."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.privacy.service import requests as dsr
from pd_prime_demo.privacy.service import subjects
from tests.factories import Login, mails_to, person, register_and_login, user_login

REQUESTS = "/api/v1/privacy/requests"


async def _customer(client: AsyncClient) -> tuple[dict[str, str], str, str]:
    """A self-registered policyholder: bearer headers, customer id, e-mail."""
    email = f"dsr-{uuid.uuid4().hex[:8]}@example.com"
    headers = await register_and_login(client, email)
    consents = await client.get("/api/v1/privacy/consents", headers=headers)
    assert consents.status_code == 200, consents.text
    return headers, consents.json()["customer_id"], email


async def _staff_customer(client: AsyncClient, admin: Login, **overrides: Any) -> dict[str, Any]:
    made = await client.post("/api/v1/customers", json=person(**overrides), headers=admin.headers)
    assert made.status_code == 201, made.text
    return dict(made.json())


async def _actions(session: AsyncSession, resource_id: str) -> list[str]:
    rows = await session.execute(
        text("SELECT action FROM audit_log WHERE resource_id = :r ORDER BY id"), {"r": resource_id}
    )
    return [r[0] for r in rows]


def _code(body: str) -> str:
    match = re.search(r"code within \d+ minutes: (\d{6})", body)
    assert match, body
    return match.group(1)


async def test_own_request_is_verified_by_login_and_hidden_from_others(
    client: AsyncClient, session: AsyncSession
) -> None:
    mine, customer_id, _ = await _customer(client)
    theirs, _, _ = await _customer(client)
    made = await client.post(REQUESTS, json={"kind": "access", "regime": "gdpr"}, headers=mine)
    assert made.status_code == 201, made.text
    request = made.json()
    assert (request["customer_id"], request["status"], request["channel"]) == (
        customer_id,
        "verified",
        "self",
    )
    url = f"{REQUESTS}/{request['id']}"
    assert (await client.get(url, headers=mine)).status_code == 200
    # Another person: 404, as for a request that does not exist; nothing in their list.
    assert (await client.get(url, headers=theirs)).status_code == 404
    assert (await client.get(url + "/history", headers=theirs)).status_code == 404
    assert (await client.get(url + "/export", headers=theirs)).status_code == 404
    listed = await client.get(REQUESTS, headers=theirs)
    assert listed.json()["items"] == []
    history = (await client.get(url + "/history", headers=mine)).json()
    assert [(e["from_status"], e["to_status"]) for e in history] == [
        (None, "received"),
        ("received", "verified"),
    ]
    assert await _actions(session, request["id"]) == [
        "privacy_request.received",
        "privacy_request.verified",
    ]


async def test_a_kind_the_regime_lacks_is_refused(client: AsyncClient) -> None:
    mine, _, _ = await _customer(client)
    refused = await client.post(REQUESTS, json={"kind": "opt_out", "regime": "gdpr"}, headers=mine)
    assert refused.status_code == 422
    assert refused.json()["code"] == "privacy.kind_not_in_regime"
    listed = await client.get(REQUESTS, headers=mine)
    assert listed.json()["items"] == []


async def test_staff_request_is_verified_by_a_code_to_the_address_on_file(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    customer = await _staff_customer(client, admin)
    made = await client.post(
        REQUESTS,
        json={"kind": "objection", "regime": "gdpr", "customer_id": customer["id"]},
        headers=admin.headers,
    )
    assert made.status_code == 201, made.text
    request_id = made.json()["id"]
    assert made.json()["status"] == "received"
    (mail,) = await mails_to(runtime, customer["email"])
    code = _code(mail.body)
    assert request_id in mail.body
    # Not verified, so not fulfilled.
    early = await client.post(f"{REQUESTS}/{request_id}/fulfilment", headers=admin.headers)
    assert early.status_code == 409
    wrong = "000000" if code != "000000" else "111111"
    refused = await client.post(
        f"{REQUESTS}/verification", json={"request_id": request_id, "code": wrong}
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "privacy.verification_failed"
    attempts = await session.scalar(
        text("SELECT attempts FROM privacy_verifications WHERE request_id = :r"),
        {"r": request_id},
    )
    assert attempts == 1  # counted although the answer was an error
    verified = await client.post(
        f"{REQUESTS}/verification", json={"request_id": request_id, "code": code}
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "verified"
    # A code works once.
    again = await client.post(
        f"{REQUESTS}/verification", json={"request_id": request_id, "code": code}
    )
    assert again.status_code == 422


async def test_expired_code_and_too_many_attempts(client: AsyncClient, runtime: Runtime) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    customer = await _staff_customer(client, admin)
    body = {"kind": "access", "regime": "ccpa", "customer_id": customer["id"]}
    first = (await client.post(REQUESTS, json=body, headers=admin.headers)).json()
    (mail,) = await mails_to(runtime, customer["email"])
    ttl = runtime.settings.privacy_verification_ttl_minutes
    with clock.frozen_at(clock.now() + timedelta(minutes=ttl + 1)):
        late = await client.post(
            f"{REQUESTS}/verification", json={"request_id": first["id"], "code": _code(mail.body)}
        )
    assert late.status_code == 422
    second = (await client.post(REQUESTS, json=body, headers=admin.headers)).json()
    mails = await mails_to(runtime, customer["email"])
    code = _code(mails[-1].body)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        answer = await client.post(
            f"{REQUESTS}/verification", json={"request_id": second["id"], "code": wrong}
        )
        assert answer.status_code == 422
    # The right code no longer helps: a new one must be sent.
    locked = await client.post(
        f"{REQUESTS}/verification", json={"request_id": second["id"], "code": code}
    )
    assert locked.status_code == 422
    resent = await client.post(
        f"{REQUESTS}/{second['id']}/verification-code", headers=admin.headers
    )
    assert resent.status_code == 200, resent.text
    fresh = _code((await mails_to(runtime, customer["email"]))[-1].body)
    ok = await client.post(
        f"{REQUESTS}/verification", json={"request_id": second["id"], "code": fresh}
    )
    assert ok.status_code == 200, ok.text


async def test_intake_answers_alike_known_or_not(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    customer = await _staff_customer(client, admin)
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    answers = []
    for email in (customer["email"], unknown, customer["email"].upper()):
        answer = await client.post(
            f"{REQUESTS}/intake", json={"email": email, "kind": "access", "regime": "ccpa"}
        )
        answers.append((answer.status_code, answer.json()))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 202
    assert await mails_to(runtime, unknown) == []
    mails = await mails_to(runtime, customer["email"])
    assert len(mails) == 2
    # The second form, sent while the first code waits, re-sent a code on the same request.
    opened = await session.scalar(
        text("SELECT count(*) FROM privacy_requests WHERE customer_id = :c AND channel = 'intake'"),
        {"c": customer["id"]},
    )
    assert opened == 1
    request_id = await session.scalar(
        text("SELECT id::text FROM privacy_requests WHERE customer_id = :c"), {"c": customer["id"]}
    )
    assert all(request_id in m.body for m in mails)


async def _verified_staff_request(
    client: AsyncClient, runtime: Runtime, admin: Login, customer: dict[str, Any], **body: Any
) -> str:
    made = await client.post(
        REQUESTS, json={"customer_id": customer["id"], **body}, headers=admin.headers
    )
    assert made.status_code == 201, made.text
    code = _code((await mails_to(runtime, customer["email"]))[-1].body)
    verified = await client.post(
        f"{REQUESTS}/verification", json={"request_id": made.json()["id"], "code": code}
    )
    assert verified.status_code == 200, verified.text
    return str(made.json()["id"])


async def test_rectification_changes_the_customer_and_is_audited(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    customer = await _staff_customer(client, admin)
    request_id = await _verified_staff_request(
        client,
        runtime,
        admin,
        customer,
        kind="rectification",
        regime="gdpr",
        corrections={"last_name": "Gonzalez-Ruiz", "phone": "+1 512 555 0142"},
    )
    stored = await session.scalar(
        text("SELECT corrections_enc FROM privacy_requests WHERE id = :r"), {"r": request_id}
    )
    assert stored is not None
    assert "Gonzalez" not in stored
    done = await client.post(f"{REQUESTS}/{request_id}/fulfilment", headers=admin.headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert done.json()["outcome"]["fields"] == ["last_name", "phone"]
    read = await client.get(f"/api/v1/customers/{customer['id']}", headers=admin.headers)
    assert (read.json()["last_name"], read.json()["phone"]) == ("Gonzalez-Ruiz", "+1 512 555 0142")
    assert "customer.updated" in await _actions(session, customer["id"])
    assert await _actions(session, request_id) == [
        "privacy_request.received",
        "privacy_request.code_sent",
        "privacy_request.verified",
        "privacy_request.in_progress",
        "privacy_request.completed",
    ]


async def test_corrections_only_on_a_rectification(client: AsyncClient) -> None:
    mine, _, _ = await _customer(client)
    for body in (
        {"kind": "rectification", "regime": "gdpr"},
        {"kind": "access", "regime": "gdpr", "corrections": {"phone": "+1 512 555 0100"}},
        {"kind": "rectification", "regime": "gdpr", "corrections": {"agent_id": str(uuid.uuid4())}},
    ):
        refused = await client.post(REQUESTS, json=body, headers=mine)
        assert refused.status_code == 422, refused.text


async def test_restriction_objection_and_opt_out_write_the_ledger(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    published = await client.post(
        "/api/v1/privacy/notices",
        json={"version": f"t-{uuid.uuid4().hex[:6]}", "text": "notice", "url": "https://x.test/p"},
        headers=admin.headers,
    )
    assert published.status_code == 204, published.text
    mine, customer_id, _ = await _customer(client)
    granted = await client.post(
        "/api/v1/privacy/consents",
        json={"purpose": "marketing_email", "granted": True},
        headers=mine,
    )
    assert granted.status_code == 201, granted.text
    objection = (
        await client.post(REQUESTS, json={"kind": "objection", "regime": "gdpr"}, headers=mine)
    ).json()
    done = await client.post(f"{REQUESTS}/{objection['id']}/fulfilment", headers=admin.headers)
    assert done.status_code == 200, done.text
    state = (await client.get("/api/v1/privacy/consents", headers=mine)).json()
    by_purpose = {p["purpose"]: p for p in state["purposes"]}
    assert by_purpose["marketing_email"]["granted"] is False
    assert by_purpose["marketing_email"]["source"] == "dsr"
    assert not await dsr.is_restricted(session, uuid.UUID(customer_id))
    restriction = (
        await client.post(REQUESTS, json={"kind": "restriction", "regime": "gdpr"}, headers=mine)
    ).json()
    done = await client.post(f"{REQUESTS}/{restriction['id']}/fulfilment", headers=admin.headers)
    assert done.status_code == 200, done.text
    assert await dsr.is_restricted(session, uuid.UUID(customer_id))
    lifted = await client.post(
        f"{REQUESTS}/{restriction['id']}/restriction-lift", headers=admin.headers
    )
    assert lifted.status_code == 200, lifted.text
    assert not await dsr.is_restricted(session, uuid.UUID(customer_id))
    ledger = await client.get(
        f"/api/v1/privacy/customers/{customer_id}/consent-records", headers=admin.headers
    )
    records = ledger.json()["items"]
    # The grant, the objection's three withdrawals, the restriction's one per purpose.
    assert len(records) == 1 + 3 + 6
    assert {r["request_id"] for r in records if r["source"] == "dsr"} == {
        objection["id"],
        restriction["id"],
    }


async def test_extension_once_and_rejection_with_reason(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    mine, _, _ = await _customer(client)
    made = await client.post(REQUESTS, json={"kind": "access", "regime": "ccpa"}, headers=mine)
    request = made.json()
    url = f"{REQUESTS}/{request['id']}"
    extended = await client.post(
        url + "/extension", json={"reason": "records in archive storage"}, headers=admin.headers
    )
    assert extended.status_code == 200, extended.text
    received = clock.today()
    assert extended.json()["due_on"] == (received + timedelta(days=45)).isoformat()
    assert extended.json()["extended_due_on"] == (received + timedelta(days=90)).isoformat()
    twice = await client.post(url + "/extension", json={"reason": "again"}, headers=admin.headers)
    assert twice.status_code == 409
    # The person cannot reject or extend their own request.
    assert (
        await client.post(url + "/rejection", json={"reason": "x" * 5}, headers=mine)
    ).status_code == 403
    rejected = await client.post(
        url + "/rejection",
        json={"reason": "duplicate of an earlier request"},
        headers=admin.headers,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["rejection_reason"] == "duplicate of an earlier request"
    closed = await client.post(url + "/rejection", json={"reason": "again"}, headers=admin.headers)
    assert closed.status_code == 409
    actions = await _actions(session, request["id"])
    assert "privacy_request.extended" in actions
    assert actions[-1] == "privacy_request.rejected"


async def test_deadline_report_counts_overdue_and_late(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    mine, _, _ = await _customer(client)
    before = await dsr.deadline_report(session, now=clock.now() + timedelta(days=40))
    made = (
        await client.post(REQUESTS, json={"kind": "objection", "regime": "gdpr"}, headers=mine)
    ).json()
    later = clock.now() + timedelta(days=40)
    report = await dsr.deadline_report(session, now=later)
    assert report.open_overdue == before.open_overdue + 1
    assert uuid.UUID(made["id"]) in report.overdue_ids
    with clock.frozen_at(later):
        headers = {
            "Authorization": (
                await client.post(
                    "/api/v1/auth/token",
                    data={
                        "grant_type": "password",
                        "username": admin.email,
                        "password": "a sufficiently long passphrase",
                    },
                )
            ).json()["access_token"]
        }
        headers = {"Authorization": f"Bearer {headers['Authorization']}"}
        done = await client.post(f"{REQUESTS}/{made['id']}/fulfilment", headers=headers)
        assert done.status_code == 200, done.text
    after = await dsr.deadline_report(session, now=later + timedelta(minutes=1))
    assert after.open_overdue == before.open_overdue
    assert uuid.UUID(made["id"]) in after.late_ids
    assert not after.healthy


async def test_intake_finds_the_person_among_many_similar_addresses(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    tag = uuid.uuid4().hex[:8]
    # On file as the person typed it; asked for as another spelling of the same address.
    target = f"Kim.{tag}@Example.com"
    # More customers whose address contains the person's than a page of a substring search.
    for n in range(21):
        await _staff_customer(client, admin, email=f"{n}{target}")
    customer = await _staff_customer(client, admin, email=target)
    found = await subjects.customer_ids_by_email(session, target.lower())
    assert found == [uuid.UUID(customer["id"])]
    answer = await client.post(
        f"{REQUESTS}/intake", json={"email": target.lower(), "kind": "access", "regime": "ccpa"}
    )
    assert answer.status_code == 202
    assert len(await mails_to(runtime, target)) == 1
    assert await mails_to(runtime, f"0{target}") == []


async def test_an_unverified_intake_is_no_deadline_missed(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    customer = await _staff_customer(client, admin)
    later = clock.now() + timedelta(days=60)
    before = await dsr.deadline_report(session, now=later)
    # Anyone may file in a person's name; the code goes to the address on file, unanswered.
    answer = await client.post(
        f"{REQUESTS}/intake", json={"email": customer["email"], "kind": "access", "regime": "gdpr"}
    )
    assert answer.status_code == 202
    unverified = await dsr.deadline_report(session, now=later)
    assert unverified.open_overdue == before.open_overdue
    # A verified one past its month is overdue.
    request_id = await _verified_staff_request(
        client, runtime, admin, customer, kind="objection", regime="gdpr"
    )
    verified = await dsr.deadline_report(session, now=later)
    assert verified.open_overdue == before.open_overdue + 1
    assert uuid.UUID(request_id) in verified.overdue_ids


async def test_a_gdpr_answer_gives_the_ssn_and_a_ccpa_answer_withholds_it(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    customer = await _staff_customer(client, admin, ssn="123-45-6789")
    answers = {}
    for regime in ("gdpr", "ccpa"):
        request_id = await _verified_staff_request(
            client, runtime, admin, customer, kind="access", regime=regime
        )
        done = await client.post(f"{REQUESTS}/{request_id}/fulfilment", headers=admin.headers)
        assert done.status_code == 200, done.text
        export = await client.get(f"{REQUESTS}/{request_id}/export", headers=admin.headers)
        assert export.status_code == 200, export.text
        answers[regime] = export.text
    # GDPR Art. 15: the person's own data; 11 CCR 7024(d): never an SSN in a CCPA answer.
    assert "123-45-6789" in answers["gdpr"]
    assert "123-45-6789" not in answers["ccpa"]
    assert "6789" in answers["ccpa"], "held, and shown masked to its last four"
