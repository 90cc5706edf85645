"""Handling a claim through the API: assignment by workload, the status workflow with If-Match,
the claim as of moments between changes, notes, the diary, the policyholder's view, other
users' 404 and the events each reader is told."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jsonschema  # type: ignore[import-untyped]
from httpx import AsyncClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims import rules
from pd_prime_demo.claims.enums import ClaimStatus, ClosedOutcome
from pd_prime_demo.claims.repository import workflow as wf_repository
from pd_prime_demo.claims.service import assignment, workflow
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.events import service as events
from pd_prime_demo.events.catalogue import CATALOGUE, schemas
from pd_prime_demo.events.relay import publish_batch
from pd_prime_demo.identity.rules import user_actor
from tests.claims_money_support import actor_of, claim_row
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
from tests.factories import Login, changing, create_user

API = "/api/v1/claims"


def url(claim: dict[str, Any], tail: str = "") -> str:
    return f"{API}/{claim['id']}{tail}"


async def move(
    client: AsyncClient, headers: dict[str, str], claim: dict[str, Any], **body: Any
) -> Any:
    conditional = await changing(client, headers, url(claim))
    return await client.post(url(claim, "/status"), json=body, headers=conditional)


async def read(client: AsyncClient, headers: dict[str, str], claim: dict[str, Any]) -> Any:
    response = await client.get(url(claim), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def publish(runtime: Runtime) -> None:
    async with runtime.db.unit_of_work() as session:
        while len(await publish_batch(session, runtime.queue.app, ())) == 500:
            pass


async def test_first_notice_goes_to_the_adjuster_with_fewest_open_claims(
    client: AsyncClient, runtime: Runtime
) -> None:
    adjusters = sorted(
        [await staff(client, runtime, Role.ADJUSTER) for _ in range(3)], key=lambda a: a.user_id
    )
    ours = {str(a.user_id) for a in adjusters}
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    day = filing_day(made)
    loss = loss_time(made.inception + LOSS_AFTER_INCEPTION)
    with at(day):
        agent_h = await fresh(client, agent)
        claims = [await file_claim(client, agent_h, made.policy_id, loss_at=loss) for _ in range(3)]
        got = [(await read(client, agent_h, c))["adjuster_id"] for c in claims]
        assert set(got) <= ours, "an adjuster outside the test took a claim"
        # All at zero: ties go to the lowest id, so each takes one in id order.
        assert got == [str(a.user_id) for a in adjusters]
        # The second adjuster closes theirs: they now hold the fewest open claims.
        second = adjusters[1]
        headers = await fresh(client, second)
        closed = await move(client, headers, claims[1], status="closed", outcome="without_payment")
        assert closed.status_code == 200, closed.text
        fourth = await file_claim(client, agent_h, made.policy_id, loss_at=loss)
        staff_view = await read(client, headers, fourth)
        assert staff_view["adjuster_id"] == str(second.user_id)
        assert staff_view["status"] == "open"
        assert [h["to_status"] for h in staff_view["status_history"]] == ["reported", "open"]
        assert staff_view["assignment_history"][0]["reason"] == ""
        queue = await client.get(f"{API}/queue", headers=headers)
        assert [c["id"] for c in queue.json()["items"]] == [fourth["id"]]  # closed one left out
        # Named, by workload (not to the one it has), and a reassignment needs its reason.
        assign = await changing(client, headers, url(fourth))
        no_reason = await client.post(url(fourth, "/assignment"), json={}, headers=assign)
        assert no_reason.status_code == 422
        assert no_reason.json()["code"] == "claim.reason_required"
        moved = await client.post(
            url(fourth, "/assignment"), json={"reason": "holiday"}, headers=assign
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["adjuster_id"] in ours - {str(second.user_id)}
        assert moved.headers["etag"] != assign["If-Match"]
        stale = await client.post(
            url(fourth, "/assignment"),
            json={"adjuster_id": str(second.user_id), "reason": "back"},
            headers=assign,
        )
        assert stale.status_code == 412
        not_adjuster = await client.post(
            url(fourth, "/assignment"),
            json={"adjuster_id": str(agent.user_id), "reason": "why not"},
            headers=await changing(client, headers, url(fourth)),
        )
        assert not_adjuster.status_code == 422
        assert not_adjuster.json()["code"] == "claim.not_an_adjuster"
        back = await client.post(
            url(fourth, "/assignment"),
            json={"adjuster_id": str(second.user_id), "reason": "back from holiday"},
            headers=await changing(client, headers, url(fourth)),
        )
        assert back.status_code == 200, back.text
        history = back.json()["assignment_history"]
        assert [(h["adjuster_id"], h["previous_adjuster_id"]) for h in history] == [
            (str(second.user_id), None),
            (moved.json()["adjuster_id"], str(second.user_id)),
            (str(second.user_id), moved.json()["adjuster_id"]),
        ]


async def test_the_workflow_moves_with_if_match_and_refuses_what_it_does_not_allow(
    client: AsyncClient, runtime: Runtime
) -> None:
    adjuster = await staff(client, runtime, Role.ADJUSTER)
    made, _, claim = await claim_in_force(client, runtime)
    with at(filing_day(made)):
        headers = await fresh(client, adjuster)
        before = await client.get(url(claim), headers=headers)
        assert before.json()["status"] == "open"
        assert before.json()["allowed_moves"] == ["under_investigation", "closed"]
        etag = before.headers["etag"]
        body = {"status": "under_investigation"}
        missing = await client.post(url(claim, "/status"), json=body, headers=headers)
        assert missing.status_code == 428
        ok = await client.post(
            url(claim, "/status"), json=body, headers={**headers, "If-Match": etag}
        )
        assert ok.status_code == 200, ok.text
        assert ok.json()["status"] == "under_investigation"
        assert ok.headers["etag"] != etag
        stale = await client.post(
            url(claim, "/status"), json={"status": "closed"}, headers={**headers, "If-Match": etag}
        )
        assert stale.status_code == 412
        back = await move(client, headers, claim, status="open")
        assert back.status_code == 409
        assert back.json()["code"] == "claim.invalid_transition"
        assert back.json()["allowed_moves"] == ["closed"]
        unpaid = await move(client, headers, claim, status="closed", outcome="paid")
        assert (unpaid.status_code, unpaid.json()["code"]) == (409, "claim.no_payment")
        blank = await move(client, headers, claim, status="closed", outcome="denied", reason=" ")
        assert (blank.status_code, blank.json()["code"]) == (422, "claim.reason_required")
        denied = await move(
            client, headers, claim, status="closed", outcome="denied", reason="Excluded: racing"
        )
        assert denied.status_code == 200, denied.text
        assert (denied.json()["closed_outcome"], denied.json()["denial_reason"]) == (
            "denied",
            "Excluded: racing",
        )
        silent = await move(client, headers, claim, status="reopened")
        assert (silent.status_code, silent.json()["code"]) == (422, "claim.reason_required")
        reopened = await move(client, headers, claim, status="reopened", reason="appeal upheld")
        assert reopened.status_code == 200, reopened.text
        assert reopened.json()["denial_reason"] is None
        steps = [
            (h["from_status"], h["to_status"], h["reason"])
            for h in reopened.json()["status_history"]
        ]
        assert steps == [
            (None, "reported", "first notice of loss"),
            ("reported", "open", ""),
            ("open", "under_investigation", ""),
            ("under_investigation", "closed", "Excluded: racing"),
            ("closed", "reopened", "appeal upheld"),
        ]
    async with runtime.db.unit_of_work() as session:
        actions = (
            await session.execute(
                text("SELECT action FROM audit_log WHERE resource_id = :id ORDER BY id"),
                {"id": claim["id"]},
            )
        ).scalars()
        assert list(actions).count("claim.status_changed") == 4  # open, investigate, close, reopen


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


async def test_the_policyholder_is_told_of_their_claims_status_and_no_one_elses(
    client: AsyncClient, runtime: Runtime
) -> None:
    adjuster = await staff(client, runtime, Role.ADJUSTER)
    holders = [await policyholder(client) for _ in range(2)]
    made = [await bound_policy(client, h) for h in holders]
    claims = []
    with at(filing_day(made[0])):
        for holder, policy in zip(holders, made, strict=True):
            claims.append(
                await file_claim(
                    client,
                    await fresh(client, holder),
                    policy.policy_id,
                    loss_at=loss_time(policy.inception + LOSS_AFTER_INCEPTION),
                )
            )
        adjuster_h = await fresh(client, adjuster)
        for claim in claims:
            moved = await move(client, adjuster_h, claim, status="under_investigation")
            assert moved.status_code == 200, moved.text
        await publish(runtime)
        first = await client.get(
            "/api/v1/events", params={"type": "claim.*"}, headers=await fresh(client, holders[0])
        )
        assert first.status_code == 200, first.text
        seen = [(e["type"], e["aggregate_id"], e["data"].get("to")) for e in first.json()["items"]]
        assert ("claim.status_changed", claims[0]["id"], "under_investigation") in seen
        assert {aggregate for _, aggregate, _ in seen} == {claims[0]["id"]}
        assert "claim.assigned" not in {t for t, _, _ in seen}  # the adjuster's business
        company = await client.get(
            "/api/v1/events", params={"type": "claim.assigned"}, headers=adjuster_h
        )
        assert {e["aggregate_id"] for e in company.json()["items"]} >= {c["id"] for c in claims}
    # Live updates: the hub filters each published batch per connection with the same rules.
    async with runtime.db.sessionmaker() as session:
        batch = [
            e
            for e in await events.published_after(session, 0, limit=5000)
            if e.type[:6] == "claim."
        ]
        actors = []
        for holder in holders:
            user_id = await session.scalar(
                text("SELECT id FROM users WHERE email = :e"), {"e": holder.email}
            )
            actors.append(user_actor(user_id, Role.CUSTOMER.value, None))
        audiences = [events.audience_of(a) for a in actors]
        allowed = await events.recipients(session, batch, audiences)
        live = [
            {(e.type, e.aggregate_id) for e in batch if events.admits(audience, e, allowed)}
            for audience in audiences
        ]
    for mine, claim in zip(live, claims, strict=True):
        assert ("claim.status_changed", claim["id"]) in mine
        assert ("claim.assigned", claim["id"]) not in mine
        assert {aggregate for _, aggregate in mine} == {claim["id"]}


async def test_the_diary_across_claims(client: AsyncClient, runtime: Runtime) -> None:
    adjuster = await staff(client, runtime, Role.ADJUSTER)
    made, _, claim = await claim_in_force(client, runtime)
    with at(filing_day(made)):
        headers = await fresh(client, adjuster)
        due = [date(2030, 1, 10), date(2030, 1, 5), date(2030, 2, 1)]
        tasks = []
        for i, on in enumerate(due):
            created = await client.post(
                url(claim, "/diary"),
                json={"title": f"task {i}", "due_on": on.isoformat()},
                headers=headers,
            )
            assert created.status_code == 201, created.text
            assert created.json()["assigned_to"] == str(adjuster.user_id)  # the claim's
            tasks.append(created.json())
        mine = await client.get(
            f"{API}/diary",
            params={"assignee": "me", "due_before": "2030-01-31", "limit": 1},
            headers=headers,
        )
        assert [t["title"] for t in mine.json()["items"]] == ["task 1"]
        rest = await client.get(
            f"{API}/diary",
            params={
                "assignee": "me",
                "due_before": "2030-01-31",
                "cursor": mine.json()["next_cursor"],
            },
            headers=headers,
        )
        assert [t["title"] for t in rest.json()["items"]] == ["task 0"]
        done = await client.post(url(claim, f"/diary/{tasks[1]['id']}/complete"), headers=headers)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "done"
        again = await client.post(url(claim, f"/diary/{tasks[1]['id']}/complete"), headers=headers)
        assert again.status_code == 409
        left = await client.get(f"{API}/diary", params={"assignee": "me"}, headers=headers)
        assert [t["title"] for t in left.json()["items"]] == ["task 0", "task 2"]


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


async def test_nothing_closes_while_an_approval_waits_and_every_claim_event_is_catalogued(
    client: AsyncClient, runtime: Runtime
) -> None:
    """A payment above the adjuster's authority waits for approval, and the claim cannot
    close meanwhile. Then every claim event this claim's life wrote to the outbox has a
    catalogued type, a payload its strict model accepts, and the documented visibility
    (a customer's events carry the customer; staff events none)."""
    adjuster = await staff(client, runtime, Role.ADJUSTER)
    made, _, claim = await claim_in_force(client, runtime)
    with at(filing_day(made)):
        headers = await fresh(client, adjuster)
        exposure = await client.post(
            url(claim, "/exposures"),
            json={"coverage_code": "collision", "policy_unit": 0},
            headers=headers,
        )
        assert exposure.status_code == 201, exposure.text
        lines = url(claim, f"/exposures/{exposure.json()['id']}")
        valued = await client.post(
            f"{lines}/valuation",
            json={"valuation": "30000.00", "reason": "total loss"},
            headers=headers,
        )
        assert valued.status_code == 200, valued.text
        line = {"cost_type": "indemnity", "category": "vehicle_damage"}
        reserved = await client.post(
            f"{lines}/reserves",
            json={**line, "amount": "20000.00", "reason": "total loss"},
            headers=headers,
        )
        assert reserved.status_code == 201, reserved.text
        waiting = await client.post(
            f"{lines}/payments",
            json={**line, "amount": "15000.00", "payee": "Insured", "reason": "settlement"},
            headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert waiting.status_code == 202, waiting.text
        read_back = await read(client, headers, claim)
        assert [a["amount"] for a in read_back["pending_approvals"]] == ["15000.00"]
        closing = await move(client, headers, claim, status="closed", outcome="without_payment")
        assert closing.status_code == 409
        assert closing.json()["code"] == "claim.approvals_pending"
        assert (await read(client, headers, claim))["status"] == "open"  # nothing moved
    async with runtime.db.unit_of_work() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT topic, payload, customer_id FROM outbox_events "
                    "WHERE aggregate_type = 'claim' AND aggregate_id = :id ORDER BY id"
                ),
                {"id": claim["id"]},
            )
        ).all()
    published = schemas()
    topics = []
    for topic, payload, customer_id in rows:
        entry = CATALOGUE[topic]
        jsonschema.validate(payload, published[topic])
        entry.payload.model_validate(payload)
        assert (customer_id is not None) == (entry.visibility == "customer"), topic
        assert payload["claim_id"] == claim["id"]
        assert payload["number"] == claim["number"]
        topics.append(topic)
    assert topics[:3] == ["claim.reported", "claim.assigned", "claim.status_changed"]
    assert {"claim.reserve_changed", "claim.approval_requested"} <= set(topics)


async def test_with_no_adjuster_a_claim_stays_reported_until_one_is_assigned(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await staff(client, runtime, Role.ADMIN)
    made, _, claim = await claim_in_force(client, runtime)  # no adjuster exists yet
    with at(filing_day(made)):
        headers = await fresh(client, admin)
        reported = await read(client, headers, claim)
        assert (reported["status"], reported["adjuster_id"]) == ("reported", None)
        assert reported["allowed_moves"] == ["open"]
        opened = await move(client, headers, claim, status="open")
        assert (opened.status_code, opened.json()["code"]) == (409, "claim.no_adjuster")
        nobody = await client.post(
            url(claim, "/assignment"), json={}, headers=await changing(client, headers, url(claim))
        )
        assert (nobody.status_code, nobody.json()["code"]) == (422, "claim.no_adjuster_available")
        adjuster = await staff(client, runtime, Role.ADJUSTER)
        assigned = await client.post(
            url(claim, "/assignment"), json={}, headers=await changing(client, headers, url(claim))
        )
        assert assigned.status_code == 200, assigned.text
        assert assigned.json()["adjuster_id"] == str(adjuster.user_id)
        assert assigned.json()["adjuster_name"]
        assert assigned.json()["status"] == "open"
        assert assigned.json()["status_history"][-1]["from_status"] == "reported"


MOVES = st.lists(
    st.tuples(
        st.sampled_from(list(ClaimStatus)),
        st.none() | st.sampled_from(list(ClosedOutcome)),
        st.sampled_from(["", "a reason"]),
        st.booleans(),  # a stale If-Match
    ),
    min_size=1,
    max_size=15,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=MOVES)
async def test_random_moves_on_a_stored_claim_keep_header_history_and_version_agreeing(
    session: AsyncSession,
    client: AsyncClient,
    runtime: Runtime,
    steps: list[tuple[ClaimStatus, ClosedOutcome | None, str, bool]],
) -> None:
    """Through the service on the database: every accepted move is one history row and one
    version; a refused one (or a stale version) changes nothing; the header's status is
    always the history's last, and the history a chain of allowed moves."""
    made = await _shared_policy(client, runtime)
    adjuster_id = await create_user(runtime, Role.ADJUSTER)
    actor = actor_of(adjuster_id, Role.ADJUSTER)
    claim = await claim_row(
        session,
        policy_id=uuid.UUID(made.policy_id),
        customer_id=uuid.UUID(made.customer_id),
        status="reported",
    )
    assert isinstance(
        await assignment.assign(
            session,
            claim.id,
            adjuster_id=adjuster_id,
            reason="",
            expected_version=None,
            actor=actor,
        ),
        Ok,
    )
    for target, outcome, reason, stale in steps:
        version, status = claim.version, claim.status
        result = await workflow.change_status(
            session,
            claim.id,
            target,
            outcome=outcome,
            reason=reason,
            expected_version=version - 1 if stale else version,
            actor=actor,
        )
        history = await wf_repository.status_history(session, claim.id)
        if isinstance(result, Ok):
            assert not stale
            assert claim.version == version + 1
            assert (history[-1].from_status, history[-1].to_status) == (status, target.value)
        else:
            assert (claim.version, claim.status) == (version, status)
            if stale:
                assert result.error.code == "claim.version_mismatch"
        assert claim.status == history[-1].to_status
        assert (claim.status == "closed") == (claim.closed_outcome is not None)
        links = [(h.from_status, h.to_status) for h in history]
        assert all(ClaimStatus(b) in rules.MOVES[ClaimStatus(a)] for a, b in links if a is not None)


_POLICIES: dict[int, Any] = {}


async def _shared_policy(client: AsyncClient, runtime: Runtime) -> Any:
    """One bound policy per test run of the property (binding is the slow part)."""
    if id(runtime) not in _POLICIES:
        _POLICIES.clear()
        _POLICIES[id(runtime)] = await bound_policy(
            client, await staff(client, runtime, Role.AGENT)
        )
    return _POLICIES[id(runtime)]
