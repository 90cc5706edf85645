"""The business counters an operator reads on /metrics move by exactly what users did: a
quote, a referral, a decline, a bind, a payment, a notice, a cancellation, a claim and its
payment each count once, and only once committed; a replay, a refused or rolled-back request
counts nothing."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.telemetry import REGISTRY
from pd_prime_demo.policies import service as policies
from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE
from tests.api.test_billing_defects import _bind_monthly
from tests.claims_money_support import PAYMENT, actor_of, key
from tests.claims_support import at, bound_policy, claim_body, filing_day, fresh, loss_time, staff
from tests.factories import auto_quote, billing_run, create_user, person, user_login

AUTO = {"product": "personal_auto", "state": "TX"}
USD = {"currency": "USD"}
SERIES: dict[str, tuple[str, dict[str, str]]] = {
    "quotes_created": ("pd_prime_quotes_created_total", AUTO),
    "quotes_referred": ("pd_prime_quotes_referred_total", AUTO),
    "quotes_declined": ("pd_prime_quotes_declined_total", AUTO),
    "ratings": ("pd_prime_rating_duration_seconds_count", {"product": "personal_auto"}),
    "policies_bound": ("pd_prime_policies_bound_total", AUTO),
    "written_premium": ("pd_prime_written_premium_total", {**AUTO, **USD}),
    "payments": ("pd_prime_payments_total", USD),
    "payment_amount": ("pd_prime_payment_amount_total", USD),
    "notices": ("pd_prime_delinquency_notices_total", {}),
    "cancellations": ("pd_prime_nonpayment_cancellations_total", {}),
    "claims_opened": ("pd_prime_claims_opened_total", {"product": "personal_auto"}),
    "claim_payments": ("pd_prime_claim_payments_total", USD),
    "claim_paid": ("pd_prime_claim_paid_amount_total", USD),
}


def readings() -> dict[str, float]:
    return {k: REGISTRY.get_sample_value(n, labels) or 0.0 for k, (n, labels) in SERIES.items()}


def moved(before: dict[str, float]) -> dict[str, float]:
    """The series that moved since ``before``, by how much."""
    now = readings()
    return {k: now[k] - before[k] for k in now if now[k] != before[k]}


async def _quote(client: AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = await client.post("/api/v1/quotes", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_quotes_count_created_referred_and_declined_once_each(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    underwriter = await user_login(client, runtime, Role.UNDERWRITER)
    customer = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    body = auto_quote(customer.json()["id"])
    before = readings()

    retried = {**agent.headers, "Idempotency-Key": f"q-{uuid.uuid4().hex}"}
    quoted = await _quote(client, retried, body)
    replay = await client.post("/api/v1/quotes", json=body, headers=retried)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == quoted["id"]
    referral = auto_quote(body["customer_id"])
    referral["risk"]["drivers"][0]["violations_3y"] = 3
    referred = await _quote(client, agent.headers, referral)
    knockout = auto_quote(body["customer_id"])
    knockout["risk"]["drivers"][1]["accidents_3y"] = 4
    declined = await _quote(client, agent.headers, knockout)
    assert [quoted["status"], referred["status"], declined["status"]] == [
        "quoted",
        "referred",
        "declined",
    ]
    invalid = auto_quote(body["customer_id"])
    invalid["risk"]["drivers"][0]["age"] = 12
    refused = await client.post("/api/v1/quotes", json=invalid, headers=agent.headers)
    assert refused.status_code == 422
    assert moved(before) == {
        "quotes_created": 3,
        "quotes_referred": 1,
        "quotes_declined": 1,
        # Every quote rated is timed, the refused one included; the replay rated nothing.
        "ratings": 4,
    }

    before = readings()
    decision = await client.post(
        f"/api/v1/quotes/{referred['id']}/underwriting-decision",
        json={"decision": "decline", "note": "driving record"},
        headers=underwriter.headers,
    )
    assert decision.json()["status"] == "declined"
    assert moved(before) == {"quotes_declined": 1}, "an underwriter's decline counts too"


async def test_a_bind_counts_its_policy_and_written_premium_once_and_only_once_committed(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    customer = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    customer_id = customer.json()["id"]
    quote = await _quote(client, agent.headers, auto_quote(customer_id))
    admin = actor_of(await create_user(runtime, Role.ADMIN), Role.ADMIN)
    before = readings()

    # A bind whose transaction rolls back (as the unit of work does on an Err after the
    # flush, or a failed commit) leaves the counters where they were.
    async with runtime.db.sessionmaker() as session:
        rolled_back = await policies.bind_quote(
            session, uuid.UUID(quote["id"]), option="standard", payment_plan="annual", actor=admin
        )
        assert isinstance(rolled_back, Ok)
        assert rolled_back.value.created
        await session.rollback()
    assert moved(before) == {}

    url = f"/api/v1/quotes/{quote['id']}/bind"
    bound = await client.post(url, json={"option": "standard"}, headers=agent.headers)
    assert bound.status_code == 201, bound.text
    again = await client.post(url, json={"option": "standard"}, headers=agent.headers)
    assert (again.status_code, again.json()["id"]) == (200, bound.json()["id"])
    referral = auto_quote(customer_id)
    referral["risk"]["vehicles"][0]["symbol"] = "D"
    referred = await _quote(client, agent.headers, referral)
    before_refusal = readings()
    refused = await client.post(
        f"/api/v1/quotes/{referred['id']}/bind", json={}, headers=agent.headers
    )
    assert refused.json()["code"] == "quote.not_bindable"
    assert moved(before_refusal) == {}

    transactions = await client.get(
        f"/api/v1/policies/{bound.json()['id']}/transactions", headers=agent.headers
    )
    written = Decimal(transactions.json()["items"][0]["premium_change"])
    assert written > 0
    assert moved(before) == {
        "policies_bound": 1,
        "written_premium": pytest.approx(float(written)),
        # The referred quote, created and rated on the way, counts as a quote, not a bind.
        "quotes_created": 1,
        "quotes_referred": 1,
        "ratings": 1,
    }


async def test_a_payment_counts_once_and_its_replay_not_at_all(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _bind_monthly(client, agent)
    url = f"/api/v1/policies/{policy['id']}/payments"
    headers = {**agent.headers, "Idempotency-Key": f"pay-{uuid.uuid4().hex}"}
    before = readings()
    paid = await client.post(url, json={"amount": "120.50"}, headers=headers)
    assert paid.status_code == 201, paid.text
    replay = await client.post(url, json={"amount": "120.50"}, headers=headers)
    assert replay.status_code == 200
    reused = await client.post(url, json={"amount": "99.00"}, headers=headers)
    assert reused.json()["code"] == "idempotency.key_reused"
    assert moved(before) == {"payments": 1, "payment_amount": pytest.approx(120.50)}


async def test_the_billing_run_counts_each_notice_and_cancellation_once(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    policy = await _bind_monthly(client, agent)
    inception = date.fromisoformat(policy["inception_on"])

    async def run(on: date) -> dict[str, Any]:
        return await billing_run(client, admin, on)

    before = readings()
    await run(inception - timedelta(days=10))  # the first invoice
    assert (await run(inception + timedelta(days=11)))["notices"] == 1
    assert (await run(inception + timedelta(days=11)))["notices"] == 0, "sent already"
    assert moved(before) == {"notices": 1}
    cancel_on = inception + timedelta(days=21)
    assert (await run(cancel_on))["cancellations"] == 1
    assert (await run(cancel_on))["cancellations"] == 0
    assert moved(before) == {"notices": 1, "cancellations": 1}


async def test_a_claim_and_its_payment_count_once_whatever_the_retries(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    assert made.quote["product_code"] == AUTO_EXAMPLE["product_code"]
    before = readings()
    with at(filing_day(made)):
        headers = {**await fresh(client, agent), "Idempotency-Key": f"fnol-{uuid.uuid4().hex}"}
        body = claim_body(made.policy_id, loss_at=loss_time(filing_day(made) - timedelta(days=1)))
        filed = await client.post("/api/v1/claims", json=body, headers=headers)
        assert filed.status_code == 201, filed.text
        replay = await client.post("/api/v1/claims", json=body, headers=headers)
        assert replay.headers["Idempotent-Replayed"] == "true"
        assert moved(before) == {"claims_opened": 1}

        adjuster = (await staff(client, runtime, Role.ADJUSTER)).headers
        claim_url = f"/api/v1/claims/{filed.json()['id']}"
        opened = await client.post(
            f"{claim_url}/exposures",
            json={"coverage_code": "collision", "policy_unit": 0},
            headers=adjuster,
        )
        assert opened.status_code == 201, opened.text
        url = f"{claim_url}/exposures/{opened.json()['id']}"
        unvalued = await client.post(
            f"{url}/payments", json={**PAYMENT, "amount": "100.00"}, headers={**adjuster, **key()}
        )
        assert unvalued.json()["code"] == "claim.valuation_required"
        valued = await client.post(
            f"{url}/valuation", json={"valuation": "8000.00", "reason": "ACV"}, headers=adjuster
        )
        assert valued.status_code == 200, valued.text
        before = readings()
        same = {**adjuster, **key()}
        body = {**PAYMENT, "amount": "1500.00"}
        paid = await client.post(f"{url}/payments", json=body, headers=same)
        assert paid.status_code == 201, paid.text
        replay = await client.post(f"{url}/payments", json=body, headers=same)
        assert replay.status_code == 200, replay.text
    assert moved(before) == {"claim_payments": 1, "claim_paid": pytest.approx(1500.0)}
