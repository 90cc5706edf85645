"""Concurrent uploads to one claim, on a database that really commits: the claim's row is
locked before its attachments are counted, so together they never pass the cap."""

from __future__ import annotations

import asyncio
import uuid

from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.claims_support import (
    LOSS_AFTER_INCEPTION,
    at,
    bound_policy,
    file_claim,
    filing_day,
    fresh,
    loss_time,
    staff,
)

UPLOADS = 6
CAP = 2
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_concurrent_uploads_never_pass_the_cap_on_attachments(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    runtime.settings = runtime.settings.model_copy(update={"claim_attachments_per_claim": CAP})
    transport = ASGITransport(app=create_app(runtime=runtime), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://testserver") as client:
        agent = await staff(client, runtime, Role.AGENT)
        made = await bound_policy(client, agent)
        with at(filing_day(made)):
            headers = await fresh(client, agent)
            claim = await file_claim(
                client,
                headers,
                made.policy_id,
                loss_at=loss_time(made.inception + LOSS_AFTER_INCEPTION),
            )
            url = f"/api/v1/claims/{claim['id']}/attachments"
            responses = await asyncio.gather(
                *(
                    client.post(url, files={"file": (f"{i}.png", PNG)}, headers=headers)
                    for i in range(UPLOADS)
                )
            )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * CAP + [409] * (UPLOADS - CAP), [r.text for r in responses]
    async with runtime.db.sessionmaker() as session:
        stored = await session.scalar(
            text("SELECT count(*) FROM claim_attachments WHERE claim_id = :id"),
            {"id": uuid.UUID(claim["id"])},
        )
    assert stored == CAP
