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
from tests.factories import Login, auto_quote, changing, person, user_login


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
        headers=await changing(client, agent.headers, url),
    )
    assert cancelled.status_code == 201, cancelled.text
    after_cancel = await receivable_on_installments(client, session, agent.headers, policy["id"])
    assert all(
        i["status"] == "cancelled"
        for i in after_cancel
        if date.fromisoformat(i["due_on"]) >= cancel_on
    )
    reinstated = await client.post(
        f"{url}/reinstatements", json={}, headers=await changing(client, agent.headers, url)
    )
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
        headers=await changing(client, agent.headers, url),
    )
    reinstated = await client.post(
        f"{url}/reinstatements",
        json={"effective_on": (inception + timedelta(days=70)).isoformat()},
        headers=await changing(client, agent.headers, url),
    )
    assert reinstated.status_code == 201, reinstated.text
    after = await receivable_on_installments(client, session, agent.headers, policy["id"])
    live = [i for i in after if i["status"] != "cancelled"]
    assert len(live) == 6, "every monthly installment of the six-month term is live again"


async def test_business_dates_have_bounds_and_nothing_is_run_or_earned_ahead_of_today(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    before = await billing.balances(session)
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    for url, field, day, code in (
        ("/api/v1/billing/runs", "on", "9999-12-31", "request.invalid"),
        ("/api/v1/billing/runs", "on", tomorrow, "billing.run_in_future"),
        ("/api/v1/ledger/earnings", "through", "9999-12-31", "request.invalid"),
        ("/api/v1/ledger/earnings", "through", tomorrow, "ledger.earning_in_future"),
        ("/api/v1/ledger/earnings", "through", "0001-01-01", "request.invalid"),
    ):
        refused = await client.post(url, json={field: day}, headers=admin.headers)
        assert refused.status_code == 422, (url, day, refused.text)
        assert refused.json()["code"] == code
        assert refused.json()["errors"][0]["pointer"] == f"#/{field}"
    report = await client.get(
        "/api/v1/reports/premium",
        params={"start": "0001-01-01", "end": "2026-01-01"},
        headers=admin.headers,
    )
    assert report.status_code == 422
    assert await billing.balances(session) == before, "nothing was posted"


async def test_a_wrong_earning_run_is_reversed_by_correcting_entries(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    """What an earning run through 9999-12-31 did before dates had bounds, undone. Earned
    premium is posted per product and state (the book here is this one policy), so the
    balances are the ledger's."""
    from pd_prime_demo.core.clock import frozen_at
    from pd_prime_demo.core.result_types import Ok
    from tests.factories import noon, relogin

    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    policy = await _bind_monthly(client, agent)
    inception = date.fromisoformat(policy["inception_on"])
    payable = inception + timedelta(days=30)
    with frozen_at(noon(payable)):
        # The legitimate run through yesterday, then the wrong one through the far future.
        assert isinstance(await billing.post_earned(session, through=payable), Ok)
        right = await billing.balances(session)
        with frozen_at(noon(date(2199, 12, 31))):
            assert isinstance(await billing.post_earned(session, through=date(2199, 12, 31)), Ok)
        wrong = await billing.balances(session)
        assert wrong[billing.Account.EARNED] < right[billing.Account.EARNED], "all earned"
        headers = await relogin(client, admin)
        kept = await client.post(
            "/api/v1/ledger/earnings", json={"through": payable.isoformat()}, headers=headers
        )
        assert kept.json()["entries_posted"] == 0, "a plain run never goes back"
        restated = await client.post(
            "/api/v1/ledger/earnings",
            json={"through": payable.isoformat(), "restate": True},
            headers=headers,
        )
        assert restated.status_code == 200, restated.text
        assert restated.json()["entries_posted"] >= 1
        trial = (await client.get("/api/v1/ledger/trial-balance", headers=headers)).json()
    assert trial["balanced"] is True
    corrected = await billing.balances(session)
    assert corrected == right, "the far-future recognition is gone, nothing else moved"
    history = await billing.balances(session, as_of=date(2199, 12, 31))
    assert history == right, "even on the wrong run's own date the books read right"
