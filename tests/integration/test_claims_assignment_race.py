"""Assignment by workload under concurrent first notices, on a database that really commits:
the choice is serialised (an advisory lock held to commit), so each FNOL counts the claims
assigned and committed before it and a burst is shared out evenly instead of all going to the
adjuster who was least loaded when the burst began."""

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

FILINGS = 6


@asynccontextmanager
async def _api(runtime: Runtime) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=create_app(runtime=runtime), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


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
                *(client.post("/api/v1/claims", json=body, headers=headers) for _ in range(FILINGS))
            )
    assert [r.status_code for r in responses] == [201] * FILINGS, [r.text for r in responses]
    filed = [uuid.UUID(r.json()["id"]) for r in responses]
    async with runtime.db.sessionmaker() as session:
        rows = (
            await session.execute(
                text("SELECT adjuster_id, status FROM claims WHERE id = ANY(:ids)"), {"ids": filed}
            )
        ).all()
        by_workload = await session.scalar(
            text(
                "SELECT count(*) FROM audit_log WHERE action = 'claim.assigned' "
                "AND resource_id = ANY(:ids) AND (changes ->> 'by_workload')::boolean"
            ),
            {"ids": [str(i) for i in filed]},
        )
    assert {status for _, status in rows} == {"open"}
    held = Counter(adjuster for adjuster, _ in rows)
    assert set(held) == adjusters, "a claim went to an adjuster outside the test, or to none"
    assert sorted(held.values()) == [FILINGS // 2, FILINGS // 2], held
    assert by_workload == FILINGS
