"""Policies end to end: bind, as-of, endorse, cancel, reinstate, billing, ledger, documents."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as ledger
from pd_prime_demo.billing.service import Account
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity.rules import permissions_for
from tests.factories import (
    Login,
    auto_quote,
    changing,
    draw_documents,
    home_quote,
    person,
    register_and_login,
    user_login,
)


async def _bound(
    client: AsyncClient, agent: Login, body: dict[str, Any] | None = None, **bind: Any
) -> dict[str, Any]:
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote_body = body or auto_quote(customer["id"])
    quote_body["customer_id"] = customer["id"]
    quote = (await client.post("/api/v1/quotes", json=quote_body, headers=agent.headers)).json()
    assert quote["status"] == "quoted", quote
    response = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind",
        json={"option": "standard", **bind},
        headers=agent.headers,
    )
    assert response.status_code == 201, response.text
    return {"quote": quote, "policy": response.json()}


async def test_bind_is_idempotent_and_records_the_term(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    made = await _bound(client, agent, option="full")
    policy, quote = made["policy"], made["quote"]
    assert policy["number"].startswith("PA-TX-")
    inception = date.fromisoformat(quote["effective_on"])
    assert policy["inception_on"] == inception.isoformat()
    in_force = policy["in_force"]
    assert (
        in_force["term_end"]
        == (
            inception.replace(month=inception.month + 6)
            if inception.month <= 6
            else inception.replace(year=inception.year + 1, month=inception.month - 6)
        ).isoformat()
    )
    assert in_force["term_premium"] == quote["rating"][1]["premium"]
    assert in_force["rate_version"] == "TX-2026.1"
    again = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind", json={"option": "full"}, headers=agent.headers
    )
    assert again.status_code == 200
    assert again.json()["id"] == policy["id"]
    requote = await client.get(f"/api/v1/quotes/{quote['id']}", headers=agent.headers)
    assert requote.json()["status"] == "bound"
    balances = await ledger.balances(session, policy_id=policy["id"])
    assert balances[Account.UNEARNED] == -Decimal(in_force["term_premium"])
    assert balances[Account.RECEIVABLE] == Decimal(in_force["term_premium"]) + Decimal("25.00")


async def test_referred_or_declined_quotes_cannot_bind(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    body = auto_quote(customer["id"])
    body["risk"]["vehicles"][0]["symbol"] = "D"
    referred = (await client.post("/api/v1/quotes", json=body, headers=agent.headers)).json()
    response = await client.post(
        f"/api/v1/quotes/{referred['id']}/bind", json={}, headers=agent.headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "quote.not_bindable"


async def test_as_of_before_and_after_each_transaction(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    made = await _bound(client, agent)
    policy = made["policy"]
    url = f"/api/v1/policies/{policy['id']}"
    inception = date.fromisoformat(policy["inception_on"])
    before = await client.get(
        url, params={"as_of": (inception - timedelta(days=1)).isoformat()}, headers=agent.headers
    )
    assert before.json()["status"] == "not_yet_effective"
    endorse_on = inception + timedelta(days=30)
    coverages = copy.deepcopy(policy["in_force"]["coverages"])
    coverages["bi"] = {"limit": "250/500"}
    endorsed = await client.post(
        f"{url}/endorsements",
        json={"effective_on": endorse_on.isoformat(), "coverages": coverages},
        headers=await changing(client, agent.headers, url),
    )
    assert endorsed.status_code == 201, endorsed.text
    change = Decimal(endorsed.json()["premium_change"])
    assert change > 0
    cancel_on = inception + timedelta(days=60)
    cancelled = await client.post(
        f"{url}/cancellations",
        json={"effective_on": cancel_on.isoformat(), "reason_code": "insured_request"},
        headers=await changing(client, agent.headers, url),
    )
    assert cancelled.status_code == 201, cancelled.text
    assert Decimal(cancelled.json()["premium_change"]) < 0

    async def status_on(day: date) -> tuple[str, str | None]:
        body = (
            await client.get(url, params={"as_of": day.isoformat()}, headers=agent.headers)
        ).json()
        limit = body["in_force"]["coverages"]["bi"]["limit"] if body["in_force"] else None
        return body["status"], limit

    assert await status_on(inception) == ("in_force", "50/100")
    assert await status_on(endorse_on - timedelta(days=1)) == ("in_force", "50/100")
    assert await status_on(endorse_on) == ("in_force", "250/500")
    assert (await status_on(cancel_on))[0] == "cancelled"
    history = (await client.get(f"{url}/transactions", headers=agent.headers)).json()["items"]
    assert [t["kind"] for t in history] == ["new_business", "endorsement", "cancellation"]

    reinstated = await client.post(
        f"{url}/reinstatements", json={}, headers=await changing(client, agent.headers, url)
    )
    assert reinstated.status_code == 201, reinstated.text
    assert Decimal(reinstated.json()["premium_change"]) == -Decimal(
        cancelled.json()["premium_change"]
    )
    assert (await status_on(cancel_on + timedelta(days=5)))[0] == "in_force"
    # Written = sum of every transaction's change, and the ledger agrees to the cent.
    written = sum(Decimal(t["premium_change"]) for t in [*history, reinstated.json()])
    balances = await ledger.balances(session, policy_id=policy["id"])
    assert -balances[Account.UNEARNED] == written
    trial = await ledger.trial_balance(session)
    assert trial.balanced


async def test_an_invalid_coverage_choice_points_at_the_coverage(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = (await _bound(client, agent))["policy"]
    url = f"/api/v1/policies/{policy['id']}"
    inception = date.fromisoformat(policy["inception_on"])
    bad = await client.post(
        f"{url}/endorsements",
        json={
            "effective_on": (inception + timedelta(days=50)).isoformat(),
            "coverages": {"bi": {"limit": "1/2"}, "pd": {}},
        },
        headers=await changing(client, agent.headers, url),
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["pointer"] == "#/coverages/bi/limit"


async def test_payments_refunds_and_documents(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    made = await _bound(client, agent, payment_plan="quarterly")
    policy = made["policy"]
    url = f"/api/v1/policies/{policy['id']}"
    account = (await client.get(f"{url}/billing", headers=agent.headers)).json()
    installments = account["installments"]
    assert len(installments) == 2, "a six-month term has two quarterly installments"
    total = Decimal(policy["in_force"]["term_premium"]) + Decimal("25.00")
    assert sum(Decimal(i["amount"]) for i in installments) == total
    assert Decimal(installments[1]["fee"]) == Decimal("4.00")
    pay_headers = {**agent.headers, "Idempotency-Key": "pay-1"}
    paid = await client.post(f"{url}/payments", json={"amount": "100.00"}, headers=pay_headers)
    assert paid.status_code == 201
    replay = await client.post(f"{url}/payments", json={"amount": "100.00"}, headers=pay_headers)
    assert replay.status_code == 200
    assert replay.json()["id"] == paid.json()["id"]
    other = await client.post(f"{url}/payments", json={"amount": "5.00"}, headers=pay_headers)
    assert other.status_code == 422
    no_key = await client.post(f"{url}/payments", json={"amount": "5.00"}, headers=agent.headers)
    assert no_key.status_code == 422
    # Pay everything (over-pay by 50), then cancel flat: all of it comes back, never more.
    overpay = total - Decimal("100.00") + Decimal("50.00")
    await client.post(
        f"{url}/payments",
        json={"amount": str(overpay)},
        headers={**agent.headers, "Idempotency-Key": "pay-2"},
    )
    # Mid-term, with installments still to be billed, a credit is kept, not refunded.
    midterm = (await client.get(f"{url}/billing", headers=agent.headers)).json()
    assert Decimal(midterm["refunded"]) == 0
    assert Decimal(midterm["paid"]) == total + Decimal("50.00")
    cancel = await client.post(
        f"{url}/cancellations",
        json={"effective_on": policy["inception_on"], "reason_code": "insured_request"},
        headers=await changing(client, agent.headers, url),
    )
    assert cancel.status_code == 201
    assert Decimal(cancel.json()["premium_change"]) == -Decimal(policy["in_force"]["term_premium"])
    account = (await client.get(f"{url}/billing", headers=agent.headers)).json()
    assert Decimal(account["refunded"]) <= Decimal(account["paid"])
    assert Decimal(account["balance"]) == 0
    assert Decimal(account["refunded"]) == total - Decimal("25.00") + Decimal("50.00")
    docs = (await client.get(f"{url}/documents", headers=agent.headers)).json()["items"]
    # The cancellation's declarations page and its confirmation (with the return premium).
    kinds = ["declarations", "declarations", "cancellation_confirmation"]
    assert [d["kind"] for d in docs] == kinds
    # Recorded with their transactions, drawn after commit: until then a download waits.
    assert [d["status"] for d in docs] == ["pending"] * 3
    waiting = await client.get(f"/api/v1/documents/{docs[0]['id']}", headers=agent.headers)
    assert waiting.status_code == 202
    assert waiting.headers["retry-after"] == "2"
    assert waiting.json()["status"] == "pending"
    assert await draw_documents(runtime) == 3
    docs = (await client.get(f"{url}/documents", headers=agent.headers)).json()["items"]
    assert [d["status"] for d in docs] == ["ready"] * 3
    pdf = await client.get(f"/api/v1/documents/{docs[0]['id']}", headers=agent.headers)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    assert pdf.headers["etag"] == f'"{docs[0]["sha256"]}"'
    trial = await ledger.trial_balance(session)
    assert trial.balanced


async def test_other_users_policies_and_documents_are_404(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    other = await user_login(client, runtime, Role.AGENT)
    policy = (await _bound(client, agent))["policy"]
    url = f"/api/v1/policies/{policy['id']}"
    assert (await client.get(url, headers=other.headers)).status_code == 404
    assert (await client.get(f"{url}/billing", headers=other.headers)).status_code == 404
    assert (await client.get(f"{url}/documents", headers=other.headers)).status_code == 404
    docs = (await client.get(f"{url}/documents", headers=agent.headers)).json()["items"]
    assert (
        await client.get(f"/api/v1/documents/{docs[0]['id']}", headers=other.headers)
    ).status_code == 404
    paying = await client.post(
        f"{url}/payments",
        json={"amount": "1.00"},
        headers={**other.headers, "Idempotency-Key": "x"},
    )
    assert paying.status_code == 404
    assert (await client.get("/api/v1/policies", headers=other.headers)).json()["items"] == []


async def test_homeowners_short_rate_cancellation(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    made = await _bound(client, agent, body=home_quote("placeholder"))
    policy = made["policy"]
    inception = date.fromisoformat(policy["inception_on"])
    premium = Decimal(policy["in_force"]["term_premium"])
    cancel_on = inception + timedelta(days=30)
    cancelled = await client.post(
        f"/api/v1/policies/{policy['id']}/cancellations",
        json={"effective_on": cancel_on.isoformat(), "reason_code": "insured_request"},
        headers=await changing(client, agent.headers, f"/api/v1/policies/{policy['id']}"),
    )
    body = cancelled.json()
    assert body["snapshot"]["cancellation"]["method"] == "short_rate"
    # 30 of 365 days is 8.2% of the term: the short-rate table keeps 19% of the premium.
    assert -Decimal(body["premium_change"]) == premium - (premium * Decimal("0.19")).quantize(
        Decimal("0.01")
    )


async def test_a_transaction_and_its_declarations_page_are_written_together(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    """The page is recorded in the transaction (pending, drawn after commit): no response,
    background task or sweep is needed for a transaction to have its page."""
    import uuid

    from sqlalchemy import select

    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Ok
    from pd_prime_demo.documents.models import Document
    from pd_prime_demo.policies import service

    agent = await user_login(client, runtime, Role.AGENT)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    actor = Actor.user(uuid.UUID(str(agent.user_id)), Role.AGENT, permissions_for(Role.AGENT))
    bound = await service.bind_quote(
        session, uuid.UUID(quote["id"]), option="standard", payment_plan="annual", actor=actor
    )
    assert isinstance(bound, Ok)
    pages = select(Document.source_id).where(
        Document.policy_id == bound.value.policy.id, Document.kind == "declarations"
    )
    history = await service.transactions(session, bound.value.policy.id)
    assert list((await session.scalars(pages)).all()) == [str(history[0].id)]
    status = select(Document.status).where(Document.policy_id == bound.value.policy.id)
    assert list((await session.scalars(status)).all()) == ["pending"]


async def test_leap_year_month_end_term(client: AsyncClient, runtime: Runtime) -> None:
    """A 12-month HO-3 term from 31 Jan 2028: month-end installments through February 29."""
    from datetime import UTC, datetime

    from pd_prime_demo.core.clock import frozen_at

    with frozen_at(datetime(2028, 1, 20, 12, tzinfo=UTC)):
        agent = await user_login(client, runtime, Role.AGENT)
        body = home_quote("x")
        body["effective_on"] = "2028-01-31"
        made = await _bound(client, agent, body=body, payment_plan="monthly")
        policy = made["policy"]
        assert policy["in_force"]["term_end"] == "2029-01-31"
        url = f"/api/v1/policies/{policy['id']}"
        dues = [
            i["due_on"]
            for i in (await client.get(f"{url}/billing", headers=agent.headers)).json()[
                "installments"
            ]
        ]
        assert dues[:4] == ["2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30"]
        assert len(dues) == 12
        premium = Decimal(policy["in_force"]["term_premium"])
        cancelled = await client.post(
            f"{url}/cancellations",
            json={"effective_on": "2028-03-01", "reason_code": "underwriting"},
            headers=await changing(client, agent.headers, url),
        )
        # Pro-rata over a 366-day term: 30 days (31 Jan to 1 Mar 2028) are kept.
        kept = premium + Decimal(cancelled.json()["premium_change"])
        assert kept == (premium * 30 / 366).quantize(Decimal("0.01"))


async def test_policy_reads_follow_customer_visibility_for_every_kind_of_reader(
    client: AsyncClient, runtime: Runtime
) -> None:
    owner = await register_and_login(client, "owner-reads@example.com")
    me = (await client.get("/api/v1/customers", headers=owner)).json()["items"][0]
    quote = await client.post("/api/v1/quotes", json=auto_quote(me["id"]), headers=owner)
    assert quote.status_code == 201, quote.text
    admin = await user_login(client, runtime, Role.ADMIN)
    bound = await client.post(
        f"/api/v1/quotes/{quote.json()['id']}/bind",
        json={"option": "standard"},
        headers=admin.headers,
    )
    assert bound.status_code == 201, bound.text
    url = f"/api/v1/policies/{bound.json()['id']}"
    adjuster = await user_login(client, runtime, Role.ADJUSTER)
    stranger_agent = await user_login(client, runtime, Role.AGENT)
    other_policyholder = await register_and_login(client, "someone-else@example.com")
    assert (await client.get(url, headers=owner)).status_code == 200
    assert (await client.get(url, headers=adjuster.headers)).status_code == 200
    assert (await client.get(url, headers=stranger_agent.headers)).status_code == 404
    assert (await client.get(url, headers=other_policyholder)).status_code == 404


async def test_binding_asks_which_package_and_a_different_repeat_names_the_policy(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    url = f"/api/v1/quotes/{quote['id']}/bind"
    ambiguous = await client.post(url, json={}, headers=agent.headers)
    assert ambiguous.status_code == 422
    assert ambiguous.json()["code"] == "policy.option_required"
    assert ambiguous.json()["errors"][0]["pointer"] == "#/option"
    bound = await client.post(url, json={"option": "full"}, headers=agent.headers)
    assert bound.status_code == 201
    same = await client.post(url, json={"option": "full"}, headers=agent.headers)
    assert same.status_code == 200
    assert same.json()["id"] == bound.json()["id"]
    for different in ({"option": "standard"}, {"option": "full", "payment_plan": "monthly"}):
        refused = await client.post(url, json=different, headers=agent.headers)
        assert refused.status_code == 409, different
        assert refused.json()["code"] == "policy.already_bound"
        assert refused.json()["policy_number"] == bound.json()["number"]
        assert refused.json()["policy_id"] == bound.json()["id"]
    policy = (
        await client.get(f"/api/v1/policies/{bound.json()['id']}", headers=agent.headers)
    ).json()
    assert policy["payment_plan"] == "annual"
    assert policy["in_force"] is None, "not in force before inception"
    assert policy["terms"]["option"] == "full", "but it says what it will be"
    one_package = home_quote(customer["id"])
    home = (await client.post("/api/v1/quotes", json=one_package, headers=agent.headers)).json()
    only = await client.post(f"/api/v1/quotes/{home['id']}/bind", json={}, headers=agent.headers)
    assert only.status_code == 201, "a quote with one package needs no choice"


async def test_a_self_registered_customer_buys_and_pays_directly(client: AsyncClient) -> None:
    """No agent: the policyholder quotes, binds and pays; changes stay with staff."""
    owner = await register_and_login(client, "direct-buyer@example.com")
    me = (await client.get("/api/v1/customers", headers=owner)).json()["items"][0]
    assert me["agent_id"] is None
    quote = await client.post("/api/v1/quotes", json=auto_quote(me["id"]), headers=owner)
    assert quote.status_code == 201, quote.text
    bound = await client.post(
        f"/api/v1/quotes/{quote.json()['id']}/bind",
        json={"option": "standard", "payment_plan": "monthly"},
        headers=owner,
    )
    assert bound.status_code == 201, bound.text
    url = f"/api/v1/policies/{bound.json()['id']}"
    paid = await client.post(
        f"{url}/payments", json={"amount": "50.00"}, headers={**owner, "Idempotency-Key": "own"}
    )
    assert paid.status_code == 201, paid.text
    change = await client.post(
        f"{url}/cancellations",
        json={"effective_on": bound.json()["inception_on"], "reason_code": "insured_request"},
        headers=await changing(client, owner, url),
    )
    assert change.status_code == 403, "changes go through an agent or the carrier"


async def test_every_list_pages_the_same_way(client: AsyncClient, runtime: Runtime) -> None:
    """limit and an opaque cursor from next_cursor; a bad cursor is a 422."""
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    for _ in range(3):
        await _bound(client, agent)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/policies", params=params, headers=agent.headers)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 3, "every policy once, in pages of two"
    first = (await client.get(f"/api/v1/policies/{seen[0]}", headers=agent.headers)).json()
    by_number = await client.get(
        f"/api/v1/policies/by-number/{first['number']}", headers=agent.headers
    )
    assert by_number.json()["id"] == seen[0]
    filtered = await client.get(
        "/api/v1/policies",
        params={"status": "not_yet_effective", "product_code": "personal_auto", "state": "TX"},
        headers=agent.headers,
    )
    assert len(filtered.json()["items"]) == 3
    in_force = await client.get(
        "/api/v1/policies", params={"status": "in_force"}, headers=agent.headers
    )
    assert in_force.json()["items"] == [], "none has started yet"
    for url in (
        "/api/v1/policies",
        "/api/v1/quotes",
        "/api/v1/customers",
        "/api/v1/underwriting/referrals",
        "/api/v1/underwriting/policy-changes",
        "/api/v1/products/versions",
        "/api/v1/audit/entries",
        "/api/v1/users",
        "/api/v1/api-clients",
        f"/api/v1/policies/{seen[0]}/transactions",
        f"/api/v1/policies/{seen[0]}/documents",
    ):
        listed = await client.get(url, params={"limit": 1}, headers=admin.headers)
        assert listed.status_code == 200, (url, listed.text)
        assert set(listed.json()) == {"items", "next_cursor"}, url
        bad = await client.get(url, params={"cursor": "garbage"}, headers=admin.headers)
        assert bad.status_code == 422, url
        assert bad.json()["code"] == "pagination.bad_cursor", url
