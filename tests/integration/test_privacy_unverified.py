"""Requests nobody verified are closed once their code is long expired, and only then."""

from __future__ import annotations

from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.privacy.service import unverified
from pd_prime_demo.worker import queue_app
from tests.factories import person, user_login

REQUESTS = "/api/v1/privacy/requests"


async def test_an_unverified_intake_is_rejected_after_its_code_and_a_grace_period(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    made = await client.post("/api/v1/customers", json=person(), headers=admin.headers)
    email, customer_id = made.json()["email"], made.json()["id"]
    answer = await client.post(
        f"{REQUESTS}/intake", json={"email": email, "kind": "erasure", "regime": "gdpr"}
    )
    assert answer.status_code == 202
    ttl = timedelta(minutes=runtime.settings.privacy_verification_ttl_minutes)
    # Within its code's life and the grace after it, the request stays open.
    early = clock.now() + ttl + unverified.GRACE - timedelta(hours=1)
    assert await unverified.close_unverified(session, now=early) == 0
    late = clock.now() + ttl + unverified.GRACE + timedelta(hours=1)
    assert await unverified.close_unverified(session, now=late) == 1
    row = (
        await session.execute(
            text(
                "SELECT id::text, status, rejection_reason FROM privacy_requests "
                "WHERE customer_id = :c"
            ),
            {"c": customer_id},
        )
    ).one()
    assert (row.status, row.rejection_reason) == ("rejected", unverified.REASON)
    await audit.write_pending(session)  # chained at commit otherwise
    audited = await session.scalar(
        text(
            "SELECT count(*) FROM audit_log WHERE resource_id = :r "
            "AND action = 'privacy_request.rejected'"
        ),
        {"r": row.id},
    )
    assert audited == 1
    # Done once: a second sweep finds nothing.
    assert await unverified.close_unverified(session, now=late) == 0


def test_the_sweep_is_on_the_worker_schedule(runtime: Runtime) -> None:
    app = queue_app(runtime)
    assert "privacy:close_unverified" in app.tasks
    periodic = {task.periodic_id for task in app.periodic_registry.periodic_tasks.values()}
    assert "privacy:close_unverified" in periodic
