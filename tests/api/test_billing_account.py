"""A billing account read as a policyholder or auditor would: on a day, as known at a moment,
with its payments and refunds, and what each payment settled."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from httpx import AsyncClient

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.clock import frozen_at
from pd_prime_demo.core.runtime import Runtime
from tests.api.test_billing_defects import _bind_monthly
from tests.factories import changing, noon, relogin, user_login


async def test_a_payment_says_what_it_settled_and_a_replay_says_the_same(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    policy = await _bind_monthly(client, agent)
    url = f"/api/v1/policies/{policy['id']}"
    inception = date.fromisoformat(policy["inception_on"])
    with frozen_at(noon(inception - timedelta(days=10))):
        run = await client.post(
            "/api/v1/billing/runs", json={}, headers=await relogin(client, admin)
        )
        assert run.json()["invoiced"] == 1
    account = (await client.get(f"{url}/billing", headers=agent.headers)).json()
    first, second = account["installments"][:2]
    amount = Decimal(first["amount"]) + Decimal("10.00")
    headers = {**agent.headers, "Idempotency-Key": "settles"}
    paid = await client.post(f"{url}/payments", json={"amount": str(amount)}, headers=headers)
    assert paid.status_code == 201, paid.text
    settled = paid.json()["settled"]
    assert settled == [
        {
            "term_start": first["term_start"],
            "seq": 1,
            "due_on": first["due_on"],
            "invoice_number": first["invoice_number"],
            "amount": first["amount"],
        },
        {
            "term_start": second["term_start"],
            "seq": 2,
            "due_on": second["due_on"],
            "invoice_number": None,
            "amount": "10.00",
        },
    ], "the invoice first, the rest prepays the next installment"
    assert paid.json()["credit"] == "0.00"
    replay = await client.post(f"{url}/payments", json={"amount": str(amount)}, headers=headers)
    assert replay.status_code == 200
    assert replay.json() == paid.json()
    account = (await client.get(f"{url}/billing", headers=agent.headers)).json()
    assert [p["id"] for p in account["payments"]] == [paid.json()["id"]]
    assert account["installments"][0]["status"] == "paid"
    assert account["installments"][1]["outstanding"] == str(Decimal(second["amount"]) - 10)


async def test_the_account_as_of_a_day_and_as_known_at_a_moment(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    policy = await _bind_monthly(client, agent)
    url = f"/api/v1/policies/{policy['id']}"
    inception = date.fromisoformat(policy["inception_on"])
    with frozen_at(noon(inception - timedelta(days=10))):
        await client.post("/api/v1/billing/runs", json={}, headers=await relogin(client, admin))
    await client.post(
        f"{url}/payments",
        json={"amount": "25.00"},
        headers={**agent.headers, "Idempotency-Key": "k"},
    )
    before_change = datetime.now(UTC)
    original = (await client.get(f"{url}/billing", headers=agent.headers)).json()
    endorsed = await client.post(
        f"{url}/endorsements",
        json={
            "effective_on": (inception + timedelta(days=30)).isoformat(),
            "coverages": {"bi": {"limit": "250/500"}},
        },
        headers=await changing(client, agent.headers, url),
    )
    assert endorsed.status_code == 201
    now = (await client.get(f"{url}/billing", headers=agent.headers)).json()
    assert Decimal(now["balance"]) > Decimal(original["balance"])
    then = (
        await client.get(
            f"{url}/billing", params={"known_at": before_change.isoformat()}, headers=agent.headers
        )
    ).json()
    assert then["balance"] == original["balance"], "as the system knew it before the change"
    assert [i["amount"] for i in then["installments"]] == [
        i["amount"] for i in original["installments"]
    ]
    earlier_day = (
        await client.get(
            f"{url}/billing",
            params={"as_of": (inception - timedelta(days=11)).isoformat()},
            headers=agent.headers,
        )
    ).json()
    assert earlier_day["installments"][0]["status"] == "scheduled", "not invoiced yet that day"
    assert earlier_day["installments"][0]["invoice_number"] is None
    assert earlier_day["paid"] == "0.00", "the payment came later"
    assert earlier_day["payments"] == []
