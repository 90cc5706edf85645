"""The business spans an operator finds in a trace: what was rated, underwritten, bound, paid
and claimed, by product, state, rate version and counts; and nothing personal anywhere in the
request's spans (no name, e-mail, date of birth, phone, address, payee or free text).

Spans are recorded only while a test holds the ``spans`` fixture (tests/tracing_support.py).
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from httpx import AsyncClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from tests.claims_money_support import PAYMENT, key
from tests.claims_support import at, bound_policy, claim_body, filing_day, fresh, loss_time, staff
from tests.factories import auto_quote, person, user_login


def named(recorded: InMemorySpanExporter, name: str) -> list[dict[str, Any]]:
    return [dict(s.attributes or {}) for s in recorded.get_finished_spans() if s.name == name]


def one(recorded: InMemorySpanExporter, name: str) -> dict[str, Any]:
    (attributes,) = named(recorded, name)
    return attributes


def child_of(recorded: InMemorySpanExporter, child: str, parent: str) -> bool:
    found = recorded.get_finished_spans()
    (outer,) = (s for s in found if s.name == parent)
    assert outer.context is not None
    return any(
        s.name == child and s.parent is not None and s.parent.span_id == outer.context.span_id
        for s in found
    )


def assert_nothing_personal(recorded: InMemorySpanExporter, *secrets: str) -> None:
    found = recorded.get_finished_spans()
    everything = json.dumps([dict(s.attributes or {}) for s in found], default=str)
    leaked = [secret for secret in secrets if secret in everything]
    assert leaked == [], f"personal data in span attributes: {leaked}"


async def test_quoting_and_binding_spans_say_what_was_rated_and_bound_and_nothing_personal(
    client: AsyncClient, runtime: Runtime, spans: InMemorySpanExporter
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    customer = person(first_name="Ottoline", last_name="Quaglieri", date_of_birth="1979-03-14")
    created = await client.post("/api/v1/customers", json=customer, headers=agent.headers)
    assert created.status_code == 201, created.text
    quoted = await client.post(
        "/api/v1/quotes", json=auto_quote(created.json()["id"]), headers=agent.headers
    )
    assert quoted.status_code == 201, quoted.text
    quote = quoted.json()
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind", json={"option": "full"}, headers=agent.headers
    )
    assert bound.status_code == 201, bound.text
    paid = await client.post(
        f"/api/v1/policies/{bound.json()['id']}/payments",
        json={"amount": "200.00", "method": "ach"},
        headers={**agent.headers, "Idempotency-Key": f"p-{uuid.uuid4().hex}"},
    )
    assert paid.status_code == 201, paid.text

    assert one(spans, "quote.create") == {
        "pd_prime.product": "personal_auto",
        "pd_prime.state": "TX",
        "pd_prime.packages": 2,
        "pd_prime.submit": True,
        "pd_prime.quote_id": quote["id"],
        "pd_prime.outcome": "quoted",
    }
    assert one(spans, "quote.rate") == {
        "pd_prime.product": "personal_auto",
        "pd_prime.state": "TX",
        "pd_prime.rate_version": "TX-2026.1",
        "pd_prime.packages": 2,
        "pd_prime.explain": False,
        "pd_prime.premium": quote["rating"][0]["premium"],
    }
    underwrite = one(spans, "quote.underwrite")
    assert (underwrite["pd_prime.outcome"], underwrite["pd_prime.rules_fired"]) == ("quoted", 0)
    assert child_of(spans, "quote.rate", "quote.create")
    assert child_of(spans, "quote.underwrite", "quote.create")

    full = next(o for o in auto_quote("x")["options"] if o["name"] == "full")
    bind = one(spans, "policy.bind")
    assert bind == {
        "pd_prime.product": "personal_auto",
        "pd_prime.state": "TX",
        "pd_prime.rate_version": "TX-2026.1",
        "pd_prime.package": "full",
        "pd_prime.coverages": len(full["coverages"]),
        "pd_prime.payment_plan": "annual",
        "pd_prime.policy_id": bound.json()["id"],
        "pd_prime.premium": bind["pd_prime.premium"],
        "pd_prime.outcome": "bound",
    }
    assert bind["pd_prime.premium"] == quote["rating"][1]["premium"], "the full package's"

    assert one(spans, "payment.record") == {
        "pd_prime.policy_id": bound.json()["id"],
        "pd_prime.product": "personal_auto",
        "pd_prime.state": "TX",
        "pd_prime.method": "ach",
        "pd_prime.amount": "200.00",
        "pd_prime.currency": "USD",
        "pd_prime.outcome": "recorded",
        "pd_prime.settled": len(paid.json()["settled"]),
    }
    address = customer["address"]
    assert_nothing_personal(
        spans,
        "Ottoline",
        "Quaglieri",
        customer["email"],
        "1979-03-14",
        customer["phone"],
        customer["ssn"],
        customer["drivers_license_number"],
        address["line1"],
    )


async def test_referral_spans_carry_the_rules_and_the_decision_not_the_note(
    client: AsyncClient, runtime: Runtime, spans: InMemorySpanExporter
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    underwriter = await user_login(client, runtime, Role.UNDERWRITER)
    created = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    body = auto_quote(created.json()["id"])
    body["risk"]["drivers"][0]["violations_3y"] = 3
    referred = (await client.post("/api/v1/quotes", json=body, headers=agent.headers)).json()
    note = "spoke to Mr Quaglieri about his record"
    decided = await client.post(
        f"/api/v1/quotes/{referred['id']}/underwriting-decision",
        json={"decision": "decline", "note": note},
        headers=underwriter.headers,
    )
    assert decided.status_code == 200, decided.text

    underwrite = one(spans, "quote.underwrite")
    rules = [hit["code"] for hit in referred["underwriting"]]
    assert underwrite == {
        "pd_prime.product": "personal_auto",
        "pd_prime.state": "TX",
        "pd_prime.outcome": "referred",
        "pd_prime.rules_fired": len(rules),
        "pd_prime.rules": tuple(rules),
    }
    assert one(spans, "quote.create")["pd_prime.outcome"] == "referred"
    assert one(spans, "quote.referral_decide") == {
        "pd_prime.decision": "decline",
        "pd_prime.surcharged": False,
        "pd_prime.changed_terms": False,
        "pd_prime.authority": 1,
        "pd_prime.quote_id": referred["id"],
        "pd_prime.product": "personal_auto",
        "pd_prime.state": "TX",
        "pd_prime.outcome": "declined",
    }
    assert_nothing_personal(spans, "Quaglieri", note)


async def test_claim_spans_name_the_cause_and_counts_not_the_people(
    client: AsyncClient, runtime: Runtime, spans: InMemorySpanExporter
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    with at(filing_day(made)):
        headers = await fresh(client, agent)
        body = claim_body(made.policy_id, loss_at=loss_time(filing_day(made) - timedelta(days=1)))
        filed = await client.post("/api/v1/claims", json=body, headers=headers)
        assert filed.status_code == 201, filed.text
        claim = filed.json()
        adjuster = (await staff(client, runtime, Role.ADJUSTER)).headers
        claim_url = f"/api/v1/claims/{claim['id']}"
        opened = await client.post(
            f"{claim_url}/exposures",
            json={"coverage_code": "collision", "policy_unit": 0},
            headers=adjuster,
        )
        exposure_id = opened.json()["id"]
        url = f"{claim_url}/exposures/{exposure_id}"
        await client.post(
            f"{url}/valuation", json={"valuation": "8000.00", "reason": "ACV"}, headers=adjuster
        )
        paid = await client.post(
            f"{url}/payments",
            json={**PAYMENT, "amount": "1500.00"},
            headers={**adjuster, **key()},
        )
        assert paid.status_code == 201, paid.text

    report = one(spans, "claim.report")
    assert claim["coverage_status"] == "verified"
    assert report == {
        "pd_prime.cause_code": "collision",
        "pd_prime.involved": 2,
        "pd_prime.parties": 2,
        "pd_prime.claim_id": claim["id"],
        "pd_prime.product": "personal_auto",
        "pd_prime.state": "TX",
        "pd_prime.coverage_status": claim["coverage_status"],
        "pd_prime.findings": 0,  # in force, a covered cause, the vehicle on the schedule
        "pd_prime.fraud_indicators": report["pd_prime.fraud_indicators"],
        "pd_prime.reported_via": "agent",
        "pd_prime.outcome": claim["status"],
    }
    assert one(spans, "claim.payment") == {
        "pd_prime.claim_id": claim["id"],
        "pd_prime.exposure_id": exposure_id,
        "pd_prime.cost_type": "indemnity",
        "pd_prime.category": "vehicle_damage",
        "pd_prime.amount": "1500.00",
        "pd_prime.currency": "USD",
        "pd_prime.outcome": "paid",
        "pd_prime.reserve_raised": True,
    }
    parties = body["parties"]
    assert_nothing_personal(
        spans,
        *(p["name"] for p in parties),
        parties[0]["contact"]["phone"],
        parties[0]["contact"]["email"],
        parties[1]["contact"]["address"]["line1"],
        body["location"]["line1"],
        body["description"],
        PAYMENT["payee"],
        PAYMENT["reason"],
    )
