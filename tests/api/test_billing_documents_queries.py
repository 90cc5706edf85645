"""The billing run stays set-based with its documents: what an invoice prints beyond its own
installment (x of n, past due, payments since the last invoice, the product's name) is read for
all the run's accounts at once, so the statements per invoice do not grow with them."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection

from pd_prime_demo.billing import service as billing
from pd_prime_demo.billing.service import invoicing
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.clock import frozen_at
from pd_prime_demo.core.runtime import Runtime
from tests.factories import Login, auto_quote, noon, person, user_login
from tests.statements import statements


async def _bind(client: AsyncClient, agent: Login) -> date:
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind",
        json={"option": "standard", "payment_plan": "monthly"},
        headers=agent.headers,
    )
    assert bound.status_code == 201, bound.text
    return date.fromisoformat(bound.json()["inception_on"])


async def _invoice(runtime: Runtime, connection: AsyncConnection, on: date) -> Counter[str]:
    with frozen_at(noon(on)), statements(connection) as seen:
        async with runtime.db.unit_of_work() as session:
            await billing.invoice_due(session, through=on)
    return seen


async def test_the_runs_reads_for_its_invoices_do_not_grow_with_them(
    client: AsyncClient, runtime: Runtime, connection: AsyncConnection
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    inception = await _bind(client, agent)
    one = await _invoice(runtime, connection, inception - timedelta(days=10))
    for _ in range(3):
        assert await _bind(client, agent) == inception
    three = await _invoice(runtime, connection, inception - timedelta(days=10))
    assert three["INSERT documents"] == 3, three
    assert one["INSERT documents"] == 1, one
    reads = ("installments", "billing_terms", "payments", "refunds", "product_versions")
    for table in reads:
        assert three[f"SELECT {table}"] == one[f"SELECT {table}"], (table, one, three)
    # What does grow, per invoice: the installment's update, its balance, its document.
    grew = {k for k in three if three[k] != one[k]}
    assert grew <= {"UPDATE", "SELECT ledger_lines", "INSERT documents"}, (one, three)


async def test_a_big_run_reads_its_accounts_a_chunk_at_a_time(
    client: AsyncClient,
    runtime: Runtime,
    connection: AsyncConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(invoicing, "CHUNK_ACCOUNTS", 2)
    agent = await user_login(client, runtime, Role.AGENT)
    inceptions = {await _bind(client, agent) for _ in range(5)}
    assert len(inceptions) == 1
    seen = await _invoice(runtime, connection, inceptions.pop() - timedelta(days=10))
    assert seen["INSERT documents"] == 5
    # Three chunks (2 + 2 + 1 accounts): each reads the terms, payments and refunds once.
    assert seen["SELECT billing_terms"] == seen["SELECT payments"] == 3, seen
    assert seen["SELECT installments"] == 1 + 3, seen  # the run's own, then one per chunk
