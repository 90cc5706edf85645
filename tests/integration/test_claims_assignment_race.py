"""Assignment by workload under concurrent first notices, on a database that really commits:
the choice is serialised (an advisory lock held to commit), so each FNOL counts the claims
assigned and committed before it and a burst is shared out evenly instead of all going to the
adjuster who was least loaded when the burst began. The same holds for claims assigned by
workload through the assignment route at once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.claims_support import (
    LOSS_AFTER_INCEPTION,
    at,
    bound_policy,
    claim_body,
    filing_day,
    fresh,
    loss_time,
    staff,
)
from tests.factories import changing

FILINGS = 6
API = "/api/v1/claims"


@asynccontextmanager
async def _api(runtime: Runtime) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=create_app(runtime=runtime), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _held(runtime: Runtime, filed: list[uuid.UUID]) -> tuple[set[str], Counter[uuid.UUID]]:
    """The statuses of the claims ``filed`` and how many of them each adjuster holds."""
    async with runtime.db.sessionmaker() as session:
        rows = (
            await session.execute(
                text("SELECT adjuster_id, status FROM claims WHERE id = ANY(:ids)"), {"ids": filed}
            )
        ).all()
    return {status for _, status in rows}, Counter(adjuster for adjuster, _ in rows)


async def test_concurrent_first_notices_are_shared_between_two_adjusters(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    async with _api(runtime) as client:
        adjusters = {(await staff(client, runtime, Role.ADJUSTER)).user_id for _ in range(2)}
        agent = await staff(client, runtime, Role.AGENT)
        made = await bound_policy(client, agent)
        body = claim_body(made.policy_id, loss_at=loss_time(made.inception + LOSS_AFTER_INCEPTION))
        with at(filing_day(made)):
            headers = await fresh(client, agent)
            responses = await asyncio.gather(
                *(client.post(API, json=body, headers=headers) for _ in range(FILINGS))
            )
    assert [r.status_code for r in responses] == [201] * FILINGS, [r.text for r in responses]
    filed = [uuid.UUID(r.json()["id"]) for r in responses]
    statuses, held = await _held(runtime, filed)
    async with runtime.db.sessionmaker() as session:
        by_workload = await session.scalar(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'claim.assigned' "
                "AND resource_id = ANY(:ids) AND (changes ->> 'by_workload')::boolean"
            ),
            {"ids": [str(i) for i in filed]},
        )
    assert statuses == {"open"}
    assert set(held) == adjusters, "a claim went to an adjuster outside the test, or to none"
    assert sorted(held.values()) == [FILINGS // 2, FILINGS // 2], held
    assert by_workload == FILINGS


async def test_concurrent_assignments_by_workload_are_shared_between_two_adjusters(
    committed_runtime: Runtime,
) -> None:
    """Claims filed while no adjuster existed stay reported; assigned by workload all at once
    through the route (each under its own claim's row lock), they are shared 3 and 3."""
    runtime = committed_runtime
    async with _api(runtime) as client:
        agent = await staff(client, runtime, Role.AGENT)
        admin = await staff(client, runtime, Role.ADMIN)
        made = await bound_policy(client, agent)
        body = claim_body(made.policy_id, loss_at=loss_time(made.inception + LOSS_AFTER_INCEPTION))
        with at(filing_day(made)):
            agent_h = await fresh(client, agent)
            claims = [(await client.post(API, json=body, headers=agent_h)).json() for _ in range(6)]
            assert {c["status"] for c in claims} == {"reported"}
            adjusters = {(await staff(client, runtime, Role.ADJUSTER)).user_id for _ in range(2)}
            admin_h = await fresh(client, admin)
            conditional = [await changing(client, admin_h, f"{API}/{c['id']}") for c in claims]
            responses = await asyncio.gather(
                *(
                    client.post(f"{API}/{c['id']}/assignment", json={}, headers=h)
                    for c, h in zip(claims, conditional, strict=True)
                )
            )
    assert [r.status_code for r in responses] == [200] * len(claims), [r.text for r in responses]
    statuses, held = await _held(runtime, [uuid.UUID(c["id"]) for c in claims])
    assert statuses == {"open"}
    assert set(held) == adjusters
    assert sorted(held.values()) == [3, 3], held
