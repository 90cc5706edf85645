"""Random sequences of lifecycle and billing operations never unbalance the books."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as ledger
from pd_prime_demo.billing.service import Account
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.clock import frozen_at
from pd_prime_demo.core.runtime import Runtime
from tests.factories import auto_quote, changing, noon, person, relogin, user_login


async def test_random_sequences_keep_every_invariant(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    for seed in range(6):
        rng = random.Random(seed)
        customer = (
            await client.post("/api/v1/customers", json=person(), headers=agent.headers)
        ).json()
        quote = (
            await client.post(
                "/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers
            )
        ).json()
        plan = rng.choice(["annual", "semi_annual", "quarterly", "monthly"])
        policy = (
            await client.post(
                f"/api/v1/quotes/{quote['id']}/bind",
                json={"option": "standard", "payment_plan": plan},
                headers=agent.headers,
            )
        ).json()
        url = f"/api/v1/policies/{policy['id']}"
        day = date.fromisoformat(policy["inception_on"])
        end = date.fromisoformat(policy["in_force"]["term_end"])
        for step in range(8):
            day = min(day + timedelta(days=rng.randint(0, 25)), end - timedelta(days=1))
            action = rng.choice(["pay", "pay", "endorse", "cancel", "reinstate", "bill", "earn"])
            if action == "pay":
                await client.post(
                    f"{url}/payments",
                    json={"amount": f"{rng.randint(1, 900)}.{rng.randint(0, 99):02d}"},
                    headers={**agent.headers, "Idempotency-Key": f"{seed}-{step}"},
                )
            elif action == "endorse":
                risk = (await client.get(url, headers=agent.headers)).json()["in_force"] or {}
                body = {
                    "effective_on": day.isoformat(),
                    "coverages": {
                        "bi": {"limit": rng.choice(["30/60", "100/300", "250/500"])},
                        "pd": {"limit": rng.choice(["25", "50", "100"])},
                    },
                }
                if risk:
                    await client.post(
                        f"{url}/endorsements",
                        json=body,
                        headers=await changing(client, agent.headers, url),
                    )
            elif action == "cancel":
                await client.post(
                    f"{url}/cancellations",
                    json={
                        "effective_on": day.isoformat(),
                        "reason_code": rng.choice(["insured_request", "non_payment"]),
                    },
                    headers=await changing(client, agent.headers, url),
                )
            elif action == "reinstate":
                await client.post(
                    f"{url}/reinstatements",
                    json={},
                    headers=await changing(client, agent.headers, url),
                )
            elif action == "bill":
                with frozen_at(noon(day)):
                    await client.post(
                        "/api/v1/billing/runs",
                        json={"on": day.isoformat()},
                        headers=await relogin(client, admin),
                    )
            else:
                with frozen_at(noon(day)):
                    earned = await client.post(
                        "/api/v1/ledger/earnings",
                        json={"through": day.isoformat()},
                        headers=await relogin(client, admin),
                    )
                assert earned.status_code == 200, earned.text
            trial = await ledger.trial_balance(session)
            assert trial.balanced, (seed, step, action)
            account = (await client.get(f"{url}/billing", headers=agent.headers)).json()
            assert Decimal(account["refunded"]) <= Decimal(account["paid"]), (seed, step)
            history = (await client.get(f"{url}/transactions", headers=agent.headers)).json()[
                "items"
            ]
            written = sum(Decimal(t["premium_change"]) for t in history)
            books = await ledger.balances(session, policy_id=policy["id"])
            assert -(books[Account.UNEARNED] + books[Account.EARNED]) == written, (seed, step)
