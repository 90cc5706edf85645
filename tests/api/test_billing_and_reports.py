"""Billing runs (invoices, delinquency), earned premium in the ledger, and premium reports."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as ledger
from pd_prime_demo.billing.service import Account
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.clock import frozen_at
from pd_prime_demo.core.runtime import Runtime
from tests.factories import (
    Login,
    auto_quote,
    billing_run,
    changing,
    home_quote,
    noon,
    person,
    relogin,
    user_login,
)


async def _bind(
    client: AsyncClient, agent: Login, body: dict[str, Any], plan: str
) -> dict[str, Any]:
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    body["customer_id"] = customer["id"]
    quote = (await client.post("/api/v1/quotes", json=body, headers=agent.headers)).json()
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind",
        json={"option": "standard", "payment_plan": plan},
        headers=agent.headers,
    )
    assert bound.status_code == 201, bound.text
    return dict(bound.json())


async def test_unpaid_invoice_leads_to_notice_then_non_payment_cancellation(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    policy = await _bind(client, agent, auto_quote("x"), "monthly")
    url = f"/api/v1/policies/{policy['id']}"
    inception = date.fromisoformat(policy["inception_on"])

    async def run(on: date) -> dict[str, Any]:
        return await billing_run(client, admin, on)

    first = await run(inception - timedelta(days=20))
    assert first["invoiced"] == 0, "nothing is due within 15 days yet"
    assert (await run(inception - timedelta(days=10)))["invoiced"] == 1
    account = (await client.get(f"{url}/billing", headers=agent.headers)).json()
    assert [i["status"] for i in account["installments"]][:2] == ["open", "scheduled"]
    docs = (await client.get(f"{url}/documents", headers=agent.headers)).json()["items"]
    assert "invoice" in {d["kind"] for d in docs}
    assert (await run(inception + timedelta(days=5)))["notices"] == 0, "still in grace"
    noticed = await run(inception + timedelta(days=11))
    assert noticed["notices"] == 1
    cancel_on = inception + timedelta(days=21)
    assert (await run(cancel_on - timedelta(days=1)))["cancellations"] == 0
    assert (await run(cancel_on))["cancellations"] == 1
    state = (
        await client.get(url, params={"as_of": cancel_on.isoformat()}, headers=agent.headers)
    ).json()
    assert state["status"] == "cancelled"
    assert state["in_force"]["cancellation"]["reason_code"] == "non_payment"
    assert state["in_force"]["cancellation"]["method"] == "pro_rata"
    still_covered = await client.get(
        url, params={"as_of": (cancel_on - timedelta(days=1)).isoformat()}, headers=agent.headers
    )
    assert still_covered.json()["status"] == "in_force"


async def test_paid_invoice_is_not_delinquent(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    policy = await _bind(client, agent, auto_quote("x"), "monthly")
    url = f"/api/v1/policies/{policy['id']}"
    inception = date.fromisoformat(policy["inception_on"])
    with frozen_at(noon(inception)):
        await client.post(
            "/api/v1/billing/runs",
            json={"on": inception.isoformat()},
            headers=await relogin(client, admin),
        )
    first = (await client.get(f"{url}/billing", headers=agent.headers)).json()["installments"][0]
    await client.post(
        f"{url}/payments",
        json={"amount": first["amount"]},
        headers={**agent.headers, "Idempotency-Key": "p1"},
    )
    later = inception + timedelta(days=12)
    with frozen_at(noon(later)):
        run = await client.post(
            "/api/v1/billing/runs",
            json={"on": later.isoformat()},
            headers=await relogin(client, admin),
        )
    assert run.json()["notices"] == 0
    account = (await client.get(f"{url}/billing", headers=agent.headers)).json()
    assert account["installments"][0]["status"] == "paid"


async def test_report_agrees_with_the_ledger(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    auto = await _bind(client, agent, auto_quote("x"), "annual")
    home = await _bind(client, agent, home_quote("x"), "quarterly")
    start = min(date.fromisoformat(auto["inception_on"]), date.fromisoformat(home["inception_on"]))
    await client.post(
        f"/api/v1/policies/{auto['id']}/cancellations",
        json={
            "effective_on": (start + timedelta(days=45)).isoformat(),
            "reason_code": "underwriting",
        },
        headers=await changing(client, agent.headers, f"/api/v1/policies/{auto['id']}"),
    )
    end = start + timedelta(days=90)
    with frozen_at(noon(end + timedelta(days=1))):
        admin_then = await relogin(client, admin)
        posted = await client.post(
            "/api/v1/ledger/earnings", json={"through": end.isoformat()}, headers=admin_then
        )
        assert posted.json()["entries_posted"] == 2
        again = await client.post(
            "/api/v1/ledger/earnings", json={"through": end.isoformat()}, headers=admin_then
        )
        assert again.json()["entries_posted"] == 0, "earning is idempotent"
        report = (
            await client.get(
                "/api/v1/reports/premium",
                params={"start": start.isoformat(), "end": end.isoformat()},
                headers=admin_then,
            )
        ).json()
    lines = {(line["product_code"], line["state"]): line for line in report["lines"]}
    assert set(lines) == {("personal_auto", "TX"), ("homeowners_ho3", "OH")}
    assert lines[("personal_auto", "TX")]["in_force_count"] == 0
    assert lines[("homeowners_ho3", "OH")]["in_force_count"] == 1
    total = {
        k: sum(Decimal(line[k]) for line in report["lines"])
        for k in ("written_to_date", "earned_to_date", "unearned", "earned", "written")
    }
    assert total["earned_to_date"] + total["unearned"] == total["written_to_date"]
    books = await ledger.balances(session, as_of=end)
    assert -books[Account.EARNED] == total["earned_to_date"]
    assert -books[Account.UNEARNED] == total["unearned"]
    trial = (await client.get("/api/v1/ledger/trial-balance", headers=admin.headers)).json()
    assert trial["balanced"] is True
    assert trial["debits"] == trial["credits"]
    bad = await client.get(
        "/api/v1/reports/premium",
        params={"start": end.isoformat(), "end": start.isoformat()},
        headers=admin.headers,
    )
    assert bad.status_code == 422
    forbidden = await client.get(
        "/api/v1/reports/premium",
        params={"start": start.isoformat(), "end": end.isoformat()},
        headers=agent.headers,
    )
    assert forbidden.status_code == 403


async def test_report_and_ledger_reconcile_across_a_future_dated_endorsement(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    policy = await _bind(client, agent, auto_quote("x"), "annual")
    inception = date.fromisoformat(policy["inception_on"])
    coverages = dict(policy["terms"]["coverages"])
    coverages["bi"] = {"limit": "250/500"}
    endorsed = await client.post(
        f"/api/v1/policies/{policy['id']}/endorsements",
        json={"effective_on": (inception + timedelta(days=30)).isoformat(), "coverages": coverages},
        headers=await changing(client, agent.headers, f"/api/v1/policies/{policy['id']}"),
    )
    assert endorsed.status_code == 201, endorsed.text
    future_written = Decimal(endorsed.json()["premium_change"])
    end = inception + timedelta(days=10)
    with frozen_at(noon(end + timedelta(days=1))):
        headers = await relogin(client, admin)
        posted = await client.post(
            "/api/v1/ledger/earnings", json={"through": end.isoformat()}, headers=headers
        )
        assert posted.status_code == 200, posted.text
        report = (
            await client.get(
                "/api/v1/reports/premium",
                params={"start": inception.isoformat(), "end": end.isoformat()},
                headers=headers,
            )
        ).json()
    books = {k: Decimal(v) for k, v in report["reconciliation"].items()}
    total_unearned = sum(Decimal(line["unearned"]) for line in report["lines"])
    assert books["report_unearned"] == total_unearned
    assert books["earning_not_yet_posted"] == 0, "the earning job ran through the end"
    assert books["ledger_unearned"] == total_unearned, "the report agrees with the ledger's day"
    assert books["booked_after_end"] >= future_written > 0
    assert (
        books["ledger_unearned"] + books["booked_after_end"] - books["earned_after_end"]
        == books["ledger_unearned_all_dates"]
    ), "the reconciling items explain the ledger's balance on all dates"


async def test_non_payment_cancels_a_policy_with_a_future_dated_change(
    client: AsyncClient, runtime: Runtime
) -> None:
    """Delinquency acts although a later transaction exists: it is reversed, and dropped since
    it cannot apply to a cancelled policy (it was skipped, silently, before)."""
    from tests.factories import changing

    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    policy = await _bind(client, agent, auto_quote("x"), "monthly")
    url = f"/api/v1/policies/{policy['id']}"
    inception = date.fromisoformat(policy["inception_on"])
    endorsed = await client.post(
        f"{url}/endorsements",
        json={
            "effective_on": (inception + timedelta(days=60)).isoformat(),
            "coverages": {"pd": {"limit": "100"}},
        },
        headers=await changing(client, agent.headers, url),
    )
    assert endorsed.status_code == 201, endorsed.text

    async def run(on: date) -> dict[str, Any]:
        return await billing_run(client, admin, on)

    await run(inception - timedelta(days=10))
    assert (await run(inception + timedelta(days=11)))["notices"] == 1
    cancel_on = inception + timedelta(days=21)
    done = await run(cancel_on)
    assert done["cancellations"] == 1
    assert done["skipped"] == []
    later = await client.get(
        url, params={"as_of": (inception + timedelta(days=70)).isoformat()}, headers=agent.headers
    )
    assert later.json()["status"] == "cancelled"
    assert later.json()["terms"]["cancellation"]["effective_on"] == cancel_on.isoformat()
    assert later.json()["terms"]["coverages"]["pd"]["limit"] == "50", "the endorsement is gone"


async def test_a_closed_periods_report_reads_as_first_produced_after_a_back_dated_change(
    client: AsyncClient, runtime: Runtime
) -> None:
    from datetime import UTC, datetime

    from tests.factories import changing

    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    policy = await _bind(client, agent, auto_quote("x"), "annual")
    url = f"/api/v1/policies/{policy['id']}"
    inception = date.fromisoformat(policy["inception_on"])
    later = await client.post(
        f"{url}/endorsements",
        json={
            "effective_on": (inception + timedelta(days=50)).isoformat(),
            "coverages": {"bi": {"limit": "250/500"}},
        },
        headers=await changing(client, agent.headers, url),
    )
    assert later.status_code == 201
    period = {
        "start": inception.isoformat(),
        "end": (inception + timedelta(days=60)).isoformat(),
    }
    first = (
        await client.get("/api/v1/reports/premium", params=period, headers=admin.headers)
    ).json()
    produced_at = datetime.now(UTC)
    back_dated = await client.post(
        f"{url}/endorsements",
        json={
            "effective_on": (inception + timedelta(days=10)).isoformat(),
            "coverages": {"pd": {"limit": "100"}},
        },
        headers=await changing(client, agent.headers, url),
    )
    assert back_dated.status_code == 201
    assert back_dated.json()["out_of_sequence"]["reversed"] == [2]
    today = (
        await client.get("/api/v1/reports/premium", params=period, headers=admin.headers)
    ).json()
    assert today["lines"] != first["lines"], "the back-dated change is in today's figures"
    again = (
        await client.get(
            "/api/v1/reports/premium",
            params={**period, "known_at": produced_at.isoformat()},
            headers=admin.headers,
        )
    ).json()
    assert again["lines"] == first["lines"], "reproduced exactly as first produced"
    assert again["reconciliation"] == first["reconciliation"]
