"""With real commits and real concurrency, a bind raced by its retries counts one policy, and a
payment raced with the same Idempotency-Key counts one payment: the counters follow what the
database kept, not how many requests arrived."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from httpx import ASGITransport, AsyncClient

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.api.test_business_metrics import moved, readings
from tests.factories import auto_quote, person, user_login


async def test_raced_binds_and_payments_count_once(committed_runtime: Runtime) -> None:
    app = create_app(runtime=committed_runtime)
    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        agent = await user_login(client, committed_runtime, Role.AGENT)
        customer = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
        quote = await client.post(
            "/api/v1/quotes", json=auto_quote(customer.json()["id"]), headers=agent.headers
        )
        url = f"/api/v1/quotes/{quote.json()['id']}/bind"
        before = readings()
        choice = {"option": "standard", "payment_plan": "monthly"}
        binds = await asyncio.gather(
            *(client.post(url, json=choice, headers=agent.headers) for _ in range(6))
        )
        assert sorted(r.status_code for r in binds) == [200] * 5 + [201]
        policy_id = binds[0].json()["id"]
        transactions = await client.get(
            f"/api/v1/policies/{policy_id}/transactions", headers=agent.headers
        )
        written = float(transactions.json()["items"][0]["premium_change"])
        assert moved(before) == {"policies_bound": 1, "written_premium": pytest.approx(written)}

        before = readings()
        headers = {**agent.headers, "Idempotency-Key": f"race-{uuid.uuid4().hex}"}
        payments = await asyncio.gather(
            *(
                client.post(
                    f"/api/v1/policies/{policy_id}/payments",
                    json={"amount": "75.25"},
                    headers=headers,
                )
                for _ in range(4)
            )
        )
        assert sorted(r.status_code for r in payments) == [200] * 3 + [201]
        assert moved(before) == {"payments": 1, "payment_amount": pytest.approx(75.25)}
