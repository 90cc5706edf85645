"""Billing across features: every receivable cent on exactly one open installment."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from tests.factories import Login, auto_quote, person, user_login


async def _bind_monthly(client: AsyncClient, agent: Login) -> dict[str, Any]:
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
    return dict(bound.json())


async def receivable_on_installments(
    client: AsyncClient, session: AsyncSession, headers: dict[str, str], policy_id: str
) -> list[dict[str, Any]]:
    """Check that the ledger's receivable is exactly what the open installments still owe
    (less any unapplied credit); returns the installments."""
    account = (await client.get(f"/api/v1/policies/{policy_id}/billing", headers=headers)).json()
    balances = await billing.balances(session, policy_id=uuid.UUID(policy_id))
    receivable = balances[billing.Account.RECEIVABLE]
    assert Decimal(account["balance"]) == receivable
    outstanding = Decimal(0)
    for item in account["installments"]:
        due = Decimal(item["amount"]) + (Decimal(item["fee"]) if item["invoice_number"] else 0)
        paid = Decimal(item["paid"])
        assert Decimal(0) <= paid <= due, item
        if item["status"] == "cancelled":
            assert paid == 0, item
            continue
        assert Decimal(item["amount"]) >= 0, item
        outstanding += due - paid
    unapplied = Decimal(account["unapplied"])
    assert unapplied >= 0
    assert unapplied == 0 or outstanding == 0, account
    assert outstanding - unapplied == receivable, (outstanding, unapplied, receivable, account)
    return list(account["installments"])


async def test_cancel_then_reinstate_on_a_monthly_plan_puts_the_premium_back_on_its_installments(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _bind_monthly(client, agent)
    url = f"/api/v1/policies/{policy['id']}"
    inception = date.fromisoformat(policy["inception_on"])
    before = await receivable_on_installments(client, session, agent.headers, policy["id"])
    cancel_on = inception + timedelta(days=45)
    cancelled = await client.post(
        f"{url}/cancellations",
        json={"effective_on": cancel_on.isoformat(), "reason_code": "insured_request"},
        headers=agent.headers,
    )
    assert cancelled.status_code == 201, cancelled.text
    after_cancel = await receivable_on_installments(client, session, agent.headers, policy["id"])
    assert all(
        i["status"] == "cancelled"
        for i in after_cancel
        if date.fromisoformat(i["due_on"]) >= cancel_on
    )
    reinstated = await client.post(f"{url}/reinstatements", json={}, headers=agent.headers)
    assert reinstated.status_code == 201, reinstated.text
    after = await receivable_on_installments(client, session, agent.headers, policy["id"])
    # Without a lapse, the schedule is the one the policy had: every installment live again,
    # and the same amounts (the reinstatement writes back exactly what the cancellation took).
    assert [i["status"] for i in after] == [i["status"] for i in before]
    assert [i["amount"] for i in after] == [i["amount"] for i in before]


async def test_a_reinstatement_after_a_lapse_bills_the_rest_of_the_term_over_its_installments(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _bind_monthly(client, agent)
    url = f"/api/v1/policies/{policy['id']}"
    inception = date.fromisoformat(policy["inception_on"])
    await client.post(
        f"{url}/cancellations",
        json={
            "effective_on": (inception + timedelta(days=40)).isoformat(),
            "reason_code": "underwriting",
        },
        headers=agent.headers,
    )
    reinstated = await client.post(
        f"{url}/reinstatements",
        json={"effective_on": (inception + timedelta(days=70)).isoformat()},
        headers=agent.headers,
    )
    assert reinstated.status_code == 201, reinstated.text
    after = await receivable_on_installments(client, session, agent.headers, policy["id"])
    live = [i for i in after if i["status"] != "cancelled"]
    assert len(live) == 6, "every monthly installment of the six-month term is live again"
