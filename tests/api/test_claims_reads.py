"""Reading claims through the API: the claim as of moments between its changes, other users'
404, the policyholder's view beside the adjuster's (notes, hidden fields, masked contacts),
and the listing's filters and pages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from tests.claims_support import (
    LOSS_AFTER_INCEPTION,
    at,
    bound_policy,
    claim_in_force,
    file_claim,
    filing_day,
    fresh,
    loss_time,
    policyholder,
    staff,
)
from tests.claims_workflow_support import API, move, read, url
from tests.factories import Login


async def _money(
    client: AsyncClient, headers: dict[str, str], claim: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    exposure = await client.post(
        url(claim, "/exposures"),
        json={"coverage_code": "collision", "policy_unit": 0},
        headers=headers,
    )
    assert exposure.status_code == 201, exposure.text
    exposure_id = exposure.json()["id"]
    valued = await client.post(
        url(claim, f"/exposures/{exposure_id}/valuation"),
        json={"valuation": "8000.00", "reason": "appraisal"},
        headers=headers,
    )
    assert valued.status_code == 200, valued.text
    return exposure_id, headers


async def test_the_claim_as_of_moments_between_its_changes(
    client: AsyncClient, runtime: Runtime
) -> None:
    adjuster = await staff(client, runtime, Role.ADJUSTER)
    made, agent, claim = await claim_in_force(client, runtime)
    day = filing_day(made)
    reserve = {"cost_type": "indemnity", "category": "vehicle_damage", "amount": "3000.00"}
    with at(day, 13):
        headers = await fresh(client, adjuster)
        exposure_id, _ = await _money(client, headers, claim)
        lines = url(claim, f"/exposures/{exposure_id}")
        set_ = await client.post(
            f"{lines}/reserves", json={**reserve, "reason": "estimate"}, headers=headers
        )
        assert set_.status_code == 201, set_.text
    with at(day, 15):
        headers = await fresh(client, adjuster)
        paid = await client.post(
            f"{lines}/payments",
            json={
                "cost_type": "indemnity",
                "category": "vehicle_damage",
                "amount": "1200.00",
                "payee": "Austin Body Works",
                "reason": "repair invoice",
            },
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert paid.status_code == 201, paid.text
    with at(day, 17):
        headers = await fresh(client, adjuster)
        closed = await move(client, headers, claim, status="closed", outcome="paid")
        assert closed.status_code == 200, closed.text
        assert closed.json()["totals"]["reserve"] == "0.00"  # taken down on closing
        assert closed.json()["totals"]["paid"] == "1200.00"

        async def as_of(hour: int, minute: int = 0) -> dict[str, Any]:
            moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
            got = await client.get(
                url(claim, "/as-of"), params={"at": moment.isoformat()}, headers=headers
            )
            assert got.status_code == 200, got.text
            return dict(got.json())

        filed = await as_of(12, 30)  # filed at noon the day after the loss
        assert (filed["status"], filed["adjuster_id"]) == ("open", str(adjuster.user_id))
        assert filed["totals"]["reserve"] == "0.00"
        reserved = await as_of(14)
        assert (reserved["totals"]["reserve"], reserved["paid"]) == ("3000.00", "0.00")
        after_payment = await as_of(16)
        assert after_payment["status"] == "open"
        assert after_payment["totals"]["reserve"] == "1800.00"  # the payment used the reserve
        assert after_payment["totals"]["incurred"] == "3000.00"
        now = await as_of(18)
        assert (now["status"], now["closed_outcome"]) == ("closed", "paid")
        assert (now["totals"]["reserve"], now["paid"]) == ("0.00", "1200.00")
        before = await as_of(11)
        assert before["status"] is None
        agent_h = await fresh(client, agent)
        theirs = await client.get(url(claim, "/as-of"), headers=agent_h)
        assert theirs.json()["view"] == "policyholder"
        assert theirs.json()["totals"] is None
        assert theirs.json()["paid"] == "1200.00"


async def test_other_users_get_404_and_the_policyholder_may_not_handle(
    client: AsyncClient, runtime: Runtime
) -> None:
    adjuster = await staff(client, runtime, Role.ADJUSTER)
    made, agent, claim = await claim_in_force(client, runtime)
    with at(filing_day(made)):
        stranger = await staff(client, runtime, Role.AGENT)
        outsider = await policyholder(client)
        adjuster_h = await fresh(client, adjuster)
        etag = (await client.get(url(claim), headers=adjuster_h)).headers["etag"]
        task = await client.post(
            url(claim, "/diary"),
            json={"title": "call", "due_on": "2030-01-01"},
            headers=adjuster_h,
        )
        assert task.status_code == 201, task.text
        calls = [
            ("GET", "", None),
            ("GET", "/as-of", None),
            ("GET", "/notes", None),
            ("GET", "/diary", None),
            ("POST", "/status", {"status": "under_investigation"}),
            ("POST", "/assignment", {"reason": "x"}),
            ("POST", "/notes", {"body": "hello"}),
            ("POST", "/diary", {"title": "t", "due_on": "2030-01-01"}),
            ("POST", f"/diary/{task.json()['id']}/complete", None),
        ]
        for who in (stranger.headers, outsider.headers):
            for method, tail, body in calls:
                response = await client.request(
                    method, url(claim, tail), json=body, headers={**who, "If-Match": etag}
                )
                assert response.status_code == 404, (method, tail, response.text)
            listed = await client.get(API, headers=who)
            assert claim["id"] not in {c["id"] for c in listed.json()["items"]}
        agent_h = await fresh(client, agent)  # sees the claim, may not handle it
        refused = await client.post(
            url(claim, "/status"),
            json={"status": "under_investigation"},
            headers={**agent_h, "If-Match": etag},
        )
        assert refused.status_code == 403
        assert (await client.get(f"{API}/diary", headers=agent_h)).status_code == 403
        unknown = await client.get(f"{API}/{uuid.uuid4()}", headers=adjuster_h)
        assert unknown.status_code == 404


async def test_the_policyholder_sees_their_claim_but_not_the_adjusters_side(
    client: AsyncClient, runtime: Runtime
) -> None:
    adjuster = await staff(client, runtime, Role.ADJUSTER)
    admin = await staff(client, runtime, Role.ADMIN)
    holder = await policyholder(client)
    made = await bound_policy(client, holder)
    with at(filing_day(made)):
        holder_h = await fresh(client, holder)
        claim = await file_claim(
            client,
            holder_h,
            made.policy_id,
            loss_at=loss_time(made.inception + LOSS_AFTER_INCEPTION),
        )
        adjuster_h = await fresh(client, adjuster)
        for body, internal in (("Suspect prior damage", True), ("Inspection Friday", False)):
            note = await client.post(
                url(claim, "/notes"), json={"body": body, "internal": internal}, headers=adjuster_h
            )
            assert note.status_code == 201, note.text
        refused = await client.post(url(claim, "/notes"), json={"body": "hi"}, headers=holder_h)
        assert refused.status_code == 403
        mine = await read(client, holder_h, claim)
        assert mine["view"] == "policyholder"
        assert mine["status"] == "open"
        for hidden in (
            "fraud_indicators",
            "coverage_findings",
            "exposures",
            "totals",
            "pending_approvals",
            "assignment_history",
            "allowed_moves",
        ):
            assert mine[hidden] is None, hidden
        assert all(h["actor_id"] is None for h in mine["status_history"])
        driver = {p["name"]: p for p in mine["parties"]}["Maria Garcia"]
        assert driver["contact"]["phone"] == "+1 512 555 0100"
        notes = await client.get(url(claim, "/notes"), headers=holder_h)
        assert [n["body"] for n in notes.json()["items"]] == ["Inspection Friday"]
        assert (await client.get(url(claim, "/diary"), headers=holder_h)).status_code == 403
        staff_notes = await client.get(url(claim, "/notes"), headers=adjuster_h)
        assert len(staff_notes.json()["items"]) == 2
        theirs = await read(client, adjuster_h, claim)
        assert theirs["view"] == "staff"
        assert theirs["fraud_indicators"] is not None
        assert theirs["totals"] is not None
        masked = {p["name"]: p for p in theirs["parties"]}["Maria Garcia"]
        assert masked["contact"] is None  # adjusters hold no pii:read
        assert masked["contact_masked"] is True
        admin_view = await read(client, await fresh(client, admin), claim)
        opened = {p["name"]: p for p in admin_view["parties"]}["Maria Garcia"]
        assert opened["contact"]["email"] == "maria@example.com"
        listed = await client.get(API, headers=holder_h)
        assert [c["id"] for c in listed.json()["items"]] == [claim["id"]]


async def test_listing_filters_and_pages(client: AsyncClient, runtime: Runtime) -> None:
    adjuster: Login = await staff(client, runtime, Role.ADJUSTER)
    made, agent, first = await claim_in_force(client, runtime)
    with at(filing_day(made)):
        agent_h = await fresh(client, agent)
        second = await file_claim(
            client,
            agent_h,
            made.policy_id,
            loss_at=loss_time(made.inception + LOSS_AFTER_INCEPTION + timedelta(hours=1)),
        )
        headers = await fresh(client, adjuster)
        moved = await move(client, headers, first, status="under_investigation")
        assert moved.status_code == 200
        page = await client.get(
            API, params={"policy_id": made.policy_id, "limit": 1}, headers=headers
        )
        assert page.status_code == 200, page.text
        nxt = await client.get(
            API,
            params={"policy_id": made.policy_id, "limit": 1, "cursor": page.json()["next_cursor"]},
            headers=headers,
        )
        ids = [c["id"] for c in page.json()["items"] + nxt.json()["items"]]
        assert sorted(ids) == sorted([first["id"], second["id"]])
        assert nxt.json()["next_cursor"] is None
        investigating = await client.get(
            API,
            params={
                "status": "under_investigation",
                "adjuster_id": "me",
                "customer_id": made.customer_id,
            },
            headers=headers,
        )
        assert [c["id"] for c in investigating.json()["items"]] == [first["id"]]
        bad = await client.get(API, params={"cursor": "nonsense"}, headers=headers)
        assert bad.status_code == 422
