"""The policy documents as a carrier mails them: bound through the API, drawn by the documents
job, downloaded and read back through pypdf's text layer. The premium lines on the page add up
to the policy's stored figures; a change, a cancellation and a non-renewal print what they did."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

import pypdf
from httpx import AsyncClient

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from tests.factories import (
    Login,
    auto_quote,
    changing,
    days_ahead,
    draw_documents,
    home_quote,
    person,
    user_login,
)

NAME = "Łukasz Nguyễn"
VIN = "1HGCM82633A004352"
AMOUNT = re.compile(r"-?\$[\d,]+\.\d\d")  # premiums carry cents; limits print whole dollars


def _dollars(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", ""))


def _between(text: str, start: str, end: str) -> str:
    head = text.index(start) + len(start)
    return text[head : text.index(end, head)]


async def _bind(client: AsyncClient, agent: Login, body: dict[str, Any], option: str) -> Any:
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    body["customer_id"] = customer["id"]
    quote = (await client.post("/api/v1/quotes", json=body, headers=agent.headers)).json()
    assert quote["status"] == "quoted", quote
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind", json={"option": option}, headers=agent.headers
    )
    assert bound.status_code == 201, bound.text
    return bound.json()


async def _documents(
    client: AsyncClient, runtime: Runtime, agent: Login, policy_id: str
) -> list[tuple[dict[str, Any], str]]:
    """Every document of the policy, drawn, with its text (one line of words)."""
    await draw_documents(runtime)
    url = f"/api/v1/policies/{policy_id}/documents"
    found = []
    for doc in (await client.get(url, headers=agent.headers)).json()["items"]:
        response = await client.get(f"/api/v1/documents/{doc['id']}", headers=agent.headers)
        assert response.status_code == 200, response.text
        reader = pypdf.PdfReader(io.BytesIO(response.content))
        text = " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages)
        found.append((doc, text))
    return found


def _check_premium_lines(text: str, terms: dict[str, Any]) -> None:
    """The page's coverage lines sum to its coverage total; that total and the itemised
    adjustments to the stored term premium; with fees and taxes, to the stored total."""
    coverage_rows = _between(text, "Coverages and premium", "Total of coverage premiums")
    amounts = [_dollars(a) for a in AMOUNT.findall(coverage_rows)]
    assert len(amounts) >= len(terms["coverage_premiums"])
    assert sum(amounts) == sum(Decimal(v) for v in terms["coverage_premiums"].values())
    charges = _between(
        text, "Premium, fees and taxes Amount", "Full-term premium, fees and taxes at these terms"
    )
    lines = [_dollars(a) for a in AMOUNT.findall(charges)]
    term = Decimal(terms["term_premium"])
    # [coverage total, adjustments..., term premium, fees..., taxes...]
    cut = lines.index(term, 1)
    assert lines[0] == sum(amounts)
    assert sum(lines[:cut]) == term
    assert sum(lines[cut + 1 :]) == Decimal(terms["fees"]) + Decimal(terms["taxes"])
    total = _dollars(
        AMOUNT.findall(text[text.index("Full-term premium, fees and taxes at these terms") :])[0]
    )
    assert total == term + Decimal(terms["fees"]) + Decimal(terms["taxes"])


async def test_auto_declarations_two_vehicles_two_drivers_sum_to_the_stored_premium(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    body = auto_quote("x")
    body["risk"]["policy"]["paid_in_full"] = True  # a policy-level discount, itemised
    body["risk"]["drivers"][0]["name"] = NAME
    body["risk"]["vehicles"][0].update(make="Honda", model="Accord", vin=VIN)
    body["risk"]["vehicles"][1].update(make="Ford", model="Focus")
    policy = await _bind(client, agent, body, "full")
    url = f"/api/v1/policies/{policy['id']}"
    terms = policy["in_force"]
    # The schedule is kept with the risk (the page reads it from there), never rated.
    assert terms["risk"]["vehicles"][0]["vin"] == VIN
    [(doc, text)] = await _documents(client, runtime, agent, policy["id"])
    assert doc["kind"] == "declarations"
    _check_premium_lines(text, terms)
    for expected in [
        policy["number"],
        "Personal Auto (TX)",
        "New business",
        "12:01 a.m. standard time",
        "Central Time (America/Chicago)",
        "2022 Honda Accord",
        VIN,
        "2014 Ford Focus",
        NAME,  # the driver schedule in any script prints as written
        "Driver 2",
        "Paid in full (-5%)",
        "Policy fee",
        "$100/300 thousand per person/accident",
        "PP 00 01",
        "Uninsured/Underinsured Motorists Coverage - Texas",
        "Medical Payments Coverage - Texas",
        "Vehicle 1",
        "Vehicle 2",
    ]:
        assert expected in text, expected
    # The customer's agent is the producer, by name and e-mail.
    assert agent.email in text

    # An endorsement: the second vehicle leaves and Bodily injury goes up.
    change = await client.post(
        f"{url}/endorsements",
        json={
            "effective_on": days_ahead(30),
            "risk": {"vehicles": [body["risk"]["vehicles"][0]]},
            "coverages": {"bi": {"limit": "250/500"}},
        },
        headers=await changing(client, agent.headers, url),
    )
    assert change.status_code == 201, change.text
    endorsed = change.json()
    documents = await _documents(client, runtime, agent, policy["id"])
    _, text = documents[-1]
    for expected in [
        "Policy change (endorsement)",
        "Vehicle 2 removed",
        "2014 Ford Focus",
        "$250/500 thousand per person/accident",
        "Premium change",
    ]:
        assert expected in text, expected
    effect = _dollars(AMOUNT.findall(text[text.index("Premium change") :])[0])
    assert effect == Decimal(endorsed["premium_change"])
    _check_premium_lines(text, endorsed["snapshot"])

    # Cancelled at the insured's request: the page and the confirmation give the stored return.
    cancel = await client.post(
        f"{url}/cancellations",
        json={"effective_on": days_ahead(60), "reason_code": "insured_request"},
        headers=await changing(client, agent.headers, url),
    )
    assert cancel.status_code == 201, cancel.text
    cancelled = cancel.json()
    returned = cancelled["snapshot"]["cancellation"]["return_premium"]
    assert Decimal(returned) == -Decimal(cancelled["premium_change"])
    documents = await _documents(client, runtime, agent, policy["id"])
    kinds = [d["kind"] for d, _ in documents]
    assert kinds == ["declarations", "declarations", "declarations", "cancellation_confirmation"]
    money = f"${Decimal(returned):,.2f}"
    page, confirmation = documents[2][1], documents[3][1]
    assert "Cancelled" in page
    assert money in page
    for expected in [
        "Confirmation of cancellation",
        "At the request of the named insured",
        "Pro rata",
        "Return premium",
        money,
        "Less the premium earned to the cancellation date",
        "credited to your policy's billing account",
    ]:
        assert expected in confirmation, expected


async def test_ho3_declarations_and_the_notice_of_non_renewal(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    body = home_quote("x", premises_address="7 Oak Lane, Dayton, OH 45402")
    policy = await _bind(client, agent, body, "standard")
    url = f"/api/v1/policies/{policy['id']}"
    [(_, text)] = await _documents(client, runtime, agent, policy["id"])
    _check_premium_lines(text, policy["in_force"])
    for expected in [
        "Homeowners HO-3 (OH)",
        "Eastern Time (America/New_York)",
        "7 Oak Lane, Dayton, OH 45402",
        "Coverage A (dwelling) $300,000",
        "$30,000 (10% of Coverage A)",
        "$150,000 (50% of Coverage A)",
        "$60,000 (20% of Coverage A)",
        "$6,000 (2% of Coverage A)",
        "HO 00 03",
        "Homeowners 3 - Special Form",
        "Windstorm or Hail Percentage Deductible",
    ]:
        assert expected in text, expected
    notice = await client.post(
        f"{url}/non-renewals",
        json={"reason": "Roof in poor condition at inspection"},
        headers=await changing(client, agent.headers, url),
    )
    assert notice.status_code == 201, notice.text
    documents = await _documents(client, runtime, agent, policy["id"])
    assert [d["kind"] for d, _ in documents] == [
        "declarations",
        "declarations",
        "nonrenewal_notice",
    ]
    text = documents[2][1]
    term_end = notice.json()["term_end"]
    for expected in [
        "Notice of non-renewal",
        "Roof in poor condition at inspection",
        "no coverage under this policy after that",
        "Your rights",
    ]:
        assert expected in text, expected
    assert text.count(str(int(term_end[:4]))) >= 1


async def test_a_non_payment_cancellation_is_confirmed_with_its_stored_return_premium(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    policy = await _bind(client, agent, auto_quote("x"), "standard")
    url = f"/api/v1/policies/{policy['id']}"
    cancel = await client.post(
        f"{url}/cancellations",
        json={"effective_on": days_ahead(40), "reason_code": "non_payment"},
        headers=await changing(client, agent.headers, url),
    )
    assert cancel.status_code == 201, cancel.text
    cancelled = cancel.json()
    returned = Decimal(cancelled["snapshot"]["cancellation"]["return_premium"])
    documents = await _documents(client, runtime, agent, policy["id"])
    [(_, text)] = [(d, t) for d, t in documents if d["kind"] == "cancellation_confirmation"]
    written = Decimal(policy["in_force"]["term_premium"])
    for expected in [
        "Non-payment of premium",
        "Pro rata",  # the carrier cancels: pro-rata, whatever the product's own method
        f"${returned:,.2f}",
        f"${written - returned:,.2f}",  # earned
        f"${written:,.2f}",
        "There is no coverage under this policy from that moment on",
    ]:
        assert expected in text, expected
    # Nothing was paid: after the credit the insured still owes what the term billed (premium,
    # fees, taxes) less what the cancellation returned, the account's receivable.
    account = (await client.get(f"{url}/billing", headers=agent.headers)).json()
    terms = policy["in_force"]
    billed = written + Decimal(terms["fees"]) + Decimal(terms["taxes"])
    owed = billed + Decimal(cancelled["premium_change"]) + Decimal(cancelled["taxes_change"])
    assert owed > 0
    assert Decimal(account["balance"]) == owed
    assert f"Amount you still owe ${owed:,.2f}" in text
    assert "please pay the amount still owed" in text
    assert "Nothing is owed on your account" not in text
