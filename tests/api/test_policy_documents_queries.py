"""The policy documents keep a transaction cheap: building a page's facts reads the policy's
history once (none for new business) and the producer by primary key, whatever the number of
vehicles and coverages (the premium per vehicle comes from one rating in memory)."""

from __future__ import annotations

import uuid
from collections import Counter

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.policies import repository
from pd_prime_demo.policies.models import Policy
from pd_prime_demo.policies.service import policy_documents
from pd_prime_demo.policies.state import PolicyState
from pd_prime_demo.products import service as products
from tests.factories import Login, auto_quote, changing, days_ahead, person, user_login
from tests.statements import statements


async def _endorsed(client: AsyncClient, agent: Login, vehicles: int) -> str:
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    body = auto_quote(customer["id"])
    body["risk"]["vehicles"] = [
        {**body["risk"]["vehicles"][i % 2], "make": "Honda", "model": "Fit"}
        for i in range(vehicles)
    ]
    quote = (await client.post("/api/v1/quotes", json=body, headers=agent.headers)).json()
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind", json={"option": "full"}, headers=agent.headers
    )
    assert bound.status_code == 201, bound.text
    url = f"/api/v1/policies/{bound.json()['id']}"
    change = await client.post(
        f"{url}/endorsements",
        json={"effective_on": days_ahead(20), "coverages": {"bi": {"limit": "250/500"}}},
        headers=await changing(client, agent.headers, url),
    )
    assert change.status_code == 201, change.text
    return str(bound.json()["id"])


async def _page(runtime: Runtime, connection: AsyncConnection, policy_id: str) -> Counter[str]:
    """The statements of requesting the latest transaction's page again."""
    async with runtime.db.unit_of_work() as session:
        policy = await session.get(Policy, uuid.UUID(policy_id))
        assert policy is not None
        txn = (await repository.transactions(session, policy.id))[-1]
        version = await products.compiled_version(session, txn.product_version_id)
        state = PolicyState.from_json(txn.snapshot)
        with statements(connection) as seen:
            await policy_documents.request_documents(session, policy, txn, state, version)
    return seen


async def test_a_pages_queries_do_not_grow_with_vehicles_or_coverages(
    client: AsyncClient, runtime: Runtime, connection: AsyncConnection
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    one = await _page(runtime, connection, await _endorsed(client, agent, 1))
    four = await _page(runtime, connection, await _endorsed(client, agent, 4))
    print(dict(four))
    assert one == four
    assert four["SELECT policy_transactions"] == 1
    assert four["INSERT documents"] == 1
    assert sum(n for key, n in four.items() if key.startswith("SELECT")) <= 3
