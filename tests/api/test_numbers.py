"""One format for numbers across the API: money with two decimals, factors without padding."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from httpx import AsyncClient

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from tests.factories import auto_quote, person, user_login

MONEY = re.compile(r"^-?\d+\.\d{2}$")
MONEY_KEYS = {
    "premium", "total", "amount", "fee", "paid", "refunded", "unapplied", "balance",
    "term_premium", "fees", "taxes", "return_premium", "premium_change", "fees_change",
    "taxes_change", "debits", "credits",
}  # fmt: skip


def _money_values(body: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(body, dict):
        for key, value in body.items():
            where = f"{path}/{key}"
            if key in MONEY_KEYS and not isinstance(value, (dict, list)):
                yield where, value
            elif key == "coverage_premiums" and isinstance(value, dict):
                yield from ((f"{where}/{k}", v) for k, v in value.items())
            else:
                yield from _money_values(value, where)
    elif isinstance(body, list):
        for i, item in enumerate(body):
            yield from _money_values(item, f"{path}/{i}")


async def test_money_reads_with_two_decimals_everywhere(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind",
        json={"option": "standard", "payment_plan": "monthly"},
        headers=agent.headers,
    )
    policy = bound.json()
    url = f"/api/v1/policies/{policy['id']}"
    paid = await client.post(
        f"{url}/payments",
        json={"amount": "12.5"},
        headers={**agent.headers, "Idempotency-Key": "n"},
    )
    responses = {
        "quote": quote,
        "policy": policy,
        "terms": (
            await client.get(url, params={"as_of": policy["inception_on"]}, headers=agent.headers)
        ).json(),
        "transactions": (await client.get(f"{url}/transactions", headers=agent.headers)).json(),
        "billing": (await client.get(f"{url}/billing", headers=agent.headers)).json(),
        "payment": paid.json(),
        "trial balance": (
            await client.get("/api/v1/ledger/trial-balance", headers=admin.headers)
        ).json(),
    }
    seen = 0
    for name, body in responses.items():
        for where, value in _money_values(body):
            assert isinstance(value, str), (name, where, value)
            assert MONEY.match(value), (name, where, value)
            seen += 1
    assert seen > 40
    assert paid.json()["amount"] == "12.50"
    worksheet = (
        await client.get(f"/api/v1/quotes/{quote['id']}/worksheet", headers=agent.headers)
    ).json()
    for option in worksheet["options"]:
        for line in option["lines"]:
            assert re.match(r"^-?\d+(\.\d{1,6})?$", line["amount"]), line
            if line["factor"] is not None:
                assert not line["factor"].endswith("0") or "." not in line["factor"], line
