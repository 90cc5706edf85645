"""Handling a claim through the API: assignment by workload (and with no adjuster), the status
workflow with If-Match, and random moves on a stored claim keeping header, history and version
agreeing. Reads are in test_claims_reads, events and the diary in test_claims_events_diary."""

from __future__ import annotations

import uuid
from typing import Any

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
    staff,
)
from tests.claims_workflow_support import API, move, read, url
from tests.factories import changing, create_user


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
