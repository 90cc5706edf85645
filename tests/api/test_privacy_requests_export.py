"""Access, portability and erasure requests carried out through the workflow, and the data map
route: the answer is kept for the requester (and staff), nobody else."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta

from httpx import AsyncClient

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from tests.factories import register_and_login, user_login

REQUESTS = "/api/v1/privacy/requests"


async def _holder(client: AsyncClient) -> tuple[dict[str, str], str]:
    headers = await register_and_login(client, f"export-{uuid.uuid4().hex[:8]}@example.com")
    consents = await client.get("/api/v1/privacy/consents", headers=headers)
    return headers, str(consents.json()["customer_id"])


async def test_access_answer_is_kept_for_the_requester_in_json_and_csv(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    mine, customer_id = await _holder(client)
    theirs, _ = await _holder(client)
    made = await client.post(REQUESTS, json={"kind": "access", "regime": "gdpr"}, headers=mine)
    url = f"{REQUESTS}/{made.json()['id']}"
    # Nothing to download before it is fulfilled.
    assert (await client.get(url + "/export", headers=mine)).status_code == 404
    # The person cannot fulfil their own request: staff do.
    assert (await client.post(url + "/fulfilment", headers=mine)).status_code == 403
    done = await client.post(url + "/fulfilment", headers=admin.headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed"
    assert done.json()["outcome"]["records"] > 0
    as_json = await client.get(url + "/export", headers=mine)
    assert as_json.status_code == 200, as_json.text
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.headers["cache-control"] == "private, no-store"
    assert customer_id in as_json.text
    assert done.json()["outcome"]["json_sha256"]
    as_csv = await client.get(url + "/export", params={"format": "csv"}, headers=mine)
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert len(rows) > 1
    assert any(customer_id in cell for row in rows for cell in row)
    assert (await client.get(url + "/export", headers=admin.headers)).status_code == 200
    assert (await client.get(url + "/export", headers=theirs)).status_code == 404
    bad = await client.get(url + "/export", params={"format": "xml"}, headers=mine)
    assert bad.status_code == 422
    # Completed is final.
    again = await client.post(url + "/fulfilment", headers=admin.headers)
    assert again.status_code == 409


async def test_erasure_request_keeps_the_itemised_report(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    mine, _ = await _holder(client)
    made = await client.post(REQUESTS, json={"kind": "erasure", "regime": "ccpa"}, headers=mine)
    assert made.status_code == 201, made.text
    done = await client.post(f"{REQUESTS}/{made.json()['id']}/fulfilment", headers=admin.headers)
    assert done.status_code == 200, done.text
    outcome = done.json()["outcome"]
    assert done.json()["status"] == "completed"
    assert isinstance(outcome, dict)
    assert outcome  # erasure's own report: what was erased, pseudonymised, withheld and why


async def test_data_map_route_is_for_privacy_staff(client: AsyncClient, runtime: Runtime) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    answer = await client.get("/api/v1/privacy/data-map", headers=admin.headers)
    assert answer.status_code == 200
    columns = {(c["table"], c["column"]) for c in answer.json()["columns"]}
    assert ("customers", "ssn_enc") in columns
    assert ("claim_parties", "name") in columns
    assert (await client.get("/api/v1/privacy/data-map", headers=agent.headers)).status_code == 403


async def test_an_answer_is_downloaded_only_under_a_fresh_login(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    mine, _ = await _holder(client)
    made = await client.post(REQUESTS, json={"kind": "access", "regime": "gdpr"}, headers=mine)
    url = f"{REQUESTS}/{made.json()['id']}"
    assert (await client.post(url + "/fulfilment", headers=admin.headers)).status_code == 200
    assert (await client.get(url + "/export", headers=mine)).status_code == 200
    with clock.frozen_at(clock.now() + timedelta(minutes=6)):
        stale = await client.get(url + "/export", headers=mine)
    assert stale.status_code == 401, stale.text
    assert stale.json()["code"] == "auth.reauthentication_required"
    assert "insufficient_user_authentication" in stale.headers["www-authenticate"]
