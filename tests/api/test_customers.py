"""The customers slice: access by role, PII masking and encryption, ETags, idempotency."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.logging import configure_logging
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers.schemas import REGISTRATION_EXAMPLE
from tests.factories import Login, organisation, person, user_login, verify_address

SSN = "123-45-6789"


async def _create(client: AsyncClient, who: Login, **overrides: object) -> dict[str, object]:
    response = await client.post("/api/v1/customers", json=person(**overrides), headers=who.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_agent_creates_into_own_book_with_masked_pii(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    response = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    assert response.status_code == 201
    body = response.json()
    assert body["agent_id"] == str(agent.user_id)
    assert body["ssn"] == "***-**-6789"
    assert body["date_of_birth"] == "****-**-**"
    assert body["drivers_license_number"] == "******5678"
    assert body["pii_masked"] is True
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/api/v1/customers/{body['id']}"


async def test_pii_is_encrypted_at_rest(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    created = await _create(client, agent, drivers_license_number="ZX99887766")
    for table in ("customers", "audit_log", "idempotency_keys"):
        dump = (
            await session.execute(text(f"SELECT coalesce(json_agg(t)::text, '') FROM {table} t"))
        ).scalar_one()
        assert SSN not in dump, f"plaintext SSN in {table}"
        assert "123456789" not in dump, f"plaintext SSN in {table}"
        assert "ZX99887766" not in dump
        assert "1985-04-12" not in dump
    row = (
        await session.execute(
            text("SELECT ssn_enc FROM customers WHERE id = :id"), {"id": created["id"]}
        )
    ).scalar_one()
    assert row.startswith("v1.")


async def test_unmasked_read_requires_pii_read_and_is_audited(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    underwriter = await user_login(client, runtime, Role.UNDERWRITER)
    adjuster = await user_login(client, runtime, Role.ADJUSTER)
    created = await _create(client, agent)
    url = f"/api/v1/customers/{created['id']}"
    masked = (await client.get(url, headers=adjuster.headers)).json()
    assert masked["ssn"] == "***-**-6789"
    clear = (await client.get(url, headers=underwriter.headers)).json()
    assert clear["ssn"] == SSN
    assert clear["date_of_birth"] == "1985-04-12"
    assert clear["pii_masked"] is False
    reads = (
        await session.execute(
            text(
                "SELECT actor_id, changes FROM audit_log "
                "WHERE action = 'customer.pii_read' AND resource_id = :id"
            ),
            {"id": created["id"]},
        )
    ).all()
    assert [r.actor_id for r in reads] == [str(underwriter.user_id)]
    assert SSN not in json.dumps(reads[0].changes)


async def test_other_agents_customer_is_404(client: AsyncClient, runtime: Runtime) -> None:
    mine = await user_login(client, runtime, Role.AGENT)
    theirs = await user_login(client, runtime, Role.AGENT)
    created = await _create(client, mine)
    url = f"/api/v1/customers/{created['id']}"
    assert (await client.get(url, headers=theirs.headers)).status_code == 404
    patch = await client.patch(
        url, json={"phone": "+1 555 555 5555"}, headers={**theirs.headers, "If-Match": '"1"'}
    )
    assert patch.status_code == 404
    listed = await client.get("/api/v1/customers", headers=theirs.headers)
    assert created["id"] not in {c["id"] for c in listed.json()["items"]}


async def test_agent_cannot_create_into_another_book(client: AsyncClient, runtime: Runtime) -> None:
    mine = await user_login(client, runtime, Role.AGENT)
    theirs = await user_login(client, runtime, Role.AGENT)
    response = await client.post(
        "/api/v1/customers", json=person(agent_id=str(theirs.user_id)), headers=mine.headers
    )
    assert response.status_code == 403


async def test_admin_assigns_agent_and_unknown_agent_is_rejected(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    ok = await client.post(
        "/api/v1/customers", json=organisation(agent_id=str(agent.user_id)), headers=admin.headers
    )
    assert ok.status_code == 201
    assert ok.json()["agent_id"] == str(agent.user_id)
    assert ok.json()["display_name"] == "Acme Logistics LLC"
    bad = await client.post(
        "/api/v1/customers", json=organisation(agent_id=str(admin.user_id)), headers=admin.headers
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "#/agent_id"


async def test_registration_then_customer_sees_only_own_record(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    someone_else = await _create(client, agent)
    registration = {**REGISTRATION_EXAMPLE, "date_of_birth": "1990-01-31"}
    response = await client.post("/api/v1/registrations", json=registration)
    assert response.status_code == 202, response.text
    await verify_address(client, registration["email"])
    tokens = (
        await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": registration["email"],
                "password": registration["password"],
            },
        )
    ).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    listed = (await client.get("/api/v1/customers", headers=headers)).json()["items"]
    own_id = listed[0]["id"]
    own = await client.get(f"/api/v1/customers/{own_id}", headers=headers)
    assert own.status_code == 200
    assert own.json()["date_of_birth"] == "****-**-**"
    other = await client.get(f"/api/v1/customers/{someone_else['id']}", headers=headers)
    assert other.status_code == 404
    listed = (await client.get("/api/v1/customers", headers=headers)).json()["items"]
    assert [c["id"] for c in listed] == [own_id]
    cannot_create = await client.post("/api/v1/customers", json=person(), headers=headers)
    assert cannot_create.status_code == 403
    again = await client.post("/api/v1/registrations", json=registration)
    assert again.status_code == 202, "the same answer as a new address (no enumeration)"


async def test_update_with_if_match(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    created = await _create(client, agent)
    url = f"/api/v1/customers/{created['id']}"
    read = await client.get(url, headers=agent.headers)
    etag = read.headers["etag"]
    missing = await client.patch(url, json={"phone": "+1 555 000 1111"}, headers=agent.headers)
    assert missing.status_code == 428
    updated = await client.patch(
        url,
        json={"phone": "+1 555 000 1111", "ssn": "321-54-9876", "last_name": "Lopez"},
        headers={**agent.headers, "If-Match": etag},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["ssn"] == "***-**-9876"
    assert updated.json()["display_name"] == "Maria Lopez"
    assert updated.headers["etag"] == '"2"'
    stale = await client.patch(
        url, json={"phone": "+1 555 000 2222"}, headers={**agent.headers, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "customer.version_mismatch"
    after = (await client.get(url, headers=agent.headers)).json()
    assert after["phone"] == "+1 555 000 1111", "a refused update changes nothing"


async def test_update_rejects_bad_input_and_changes_nothing(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    created = await _create(client, agent)
    url = f"/api/v1/customers/{created['id']}"
    headers = {**agent.headers, "If-Match": '"1"'}
    cleared = await client.patch(url, json={"email": None}, headers=headers)
    assert cleared.status_code == 422
    bad_ssn = await client.patch(url, json={"ssn": "000-12-3456"}, headers=headers)
    assert bad_ssn.status_code == 422
    assert bad_ssn.json()["errors"][0]["pointer"] == "#/ssn"
    assert "000-12-3456" not in bad_ssn.text
    org_field = await client.patch(url, json={"organisation_name": "X"}, headers=headers)
    assert org_field.status_code == 422
    half_licence = await client.patch(url, json={"drivers_license_state": None}, headers=headers)
    assert half_licence.status_code == 422
    move_book = await client.patch(
        url, json={"agent_id": str(agent.user_id)}, headers={**agent.headers, "If-Match": "*"}
    )
    assert move_book.status_code == 200, "setting the same agent is not a move"
    weak_tag = await client.patch(
        url, json={"phone": None}, headers={**agent.headers, "If-Match": 'W/"2"'}
    )
    assert weak_tag.status_code == 412
    final = await client.get(url, headers=agent.headers)
    assert final.headers["etag"] == '"2"'


async def test_customer_cannot_move_own_book(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    other_agent = await user_login(client, runtime, Role.AGENT)
    created = await _create(client, agent)
    response = await client.patch(
        f"/api/v1/customers/{created['id']}",
        json={"agent_id": str(other_agent.user_id)},
        headers={**agent.headers, "If-Match": "*"},
    )
    assert response.status_code == 403


async def test_idempotent_create_replays_and_rejects_other_body(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    body = person()
    headers = {**agent.headers, "Idempotency-Key": "create-maria-1"}
    first = await client.post("/api/v1/customers", json=body, headers=headers)
    second = await client.post("/api/v1/customers", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"
    listed = (await client.get("/api/v1/customers", headers=agent.headers)).json()["items"]
    assert len(listed) == 1, "a retry must not create a second customer"
    other = await client.post("/api/v1/customers", json=person(first_name="Other"), headers=headers)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency.key_reused"


async def test_list_paginates_with_cursor_and_searches(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    for name in ("Alice", "Bob", "Carol", "Dave", "Eve"):
        await _create(client, agent, first_name=name, email=f"{name.lower()}@example.com")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/customers", params=params, headers=agent.headers)).json()
        seen += [c["first_name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["Alice", "Bob", "Carol", "Dave", "Eve"]
    by_name = await client.get("/api/v1/customers", params={"q": "car"}, headers=agent.headers)
    assert [c["first_name"] for c in by_name.json()["items"]] == ["Carol"]
    by_email = await client.get("/api/v1/customers", params={"q": "dave@"}, headers=agent.headers)
    assert [c["first_name"] for c in by_email.json()["items"]] == ["Dave"]
    wildcard = await client.get("/api/v1/customers", params={"q": "%"}, headers=agent.headers)
    assert wildcard.json()["items"] == [], "LIKE wildcards are matched literally"
    bad = await client.get("/api/v1/customers", params={"cursor": "garbage"}, headers=agent.headers)
    assert bad.status_code == 422


async def test_unknown_fields_are_rejected(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    response = await client.post(
        "/api/v1/customers", json=person(user_id=str(agent.user_id)), headers=agent.headers
    )
    assert response.status_code == 422
    assert {"pointer": "#/person/user_id", "detail": "Extra inputs are not permitted"} in [
        {k: v for k, v in e.items() if k in ("pointer", "detail")}
        for e in response.json()["errors"]
    ]


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", json=True, stream=stream)
    yield stream
    logging.getLogger().handlers.clear()


async def test_no_pii_in_logs(
    client: AsyncClient, runtime: Runtime, captured_logs: io.StringIO
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    created = await _create(client, agent)
    await client.get(f"/api/v1/customers/{created['id']}", headers=admin.headers)
    await client.get("/api/v1/customers", params={"q": "Garcia"}, headers=agent.headers)
    await client.post("/api/v1/customers", json=person(ssn="bad-ssn"), headers=agent.headers)
    logs = captured_logs.getvalue()
    assert '"event": "http.request"' in logs, "the access log must be captured"
    for secret in (SSN, "123456789", "1985-04-12", "TX12345678", "Garcia"):
        assert secret not in logs, f"{secret!r} leaked into logs"
    assert all(json.loads(line) for line in logs.splitlines()), "every line is JSON"
