"""The billing run's documents, as a policyholder receives them: a monthly policy's invoices
(installment x of n, the stored amounts, what is past due, the insured's mailing block, the
remit-to address and the coupon) and its notice of cancellation for non-payment (the dates and
amounts the run set on the installment), drawn by the documents job and read back with pypdf."""

from __future__ import annotations

import io
import re
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from pypdf import PdfReader

from pd_prime_demo.billing import repository
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.clock import frozen_at
from pd_prime_demo.core.config import get_settings
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.premium.proration import add_months
from pd_prime_demo.products.shipped import shipped
from tests.factories import Login, auto_quote, draw_documents, noon, person, relogin, user_login

FIRST, LAST = "Людмила", "Иванова"  # Cyrillic: printed as written, not transliterated
ZONE = "Central Time (America/Chicago)"  # the Texas product's claims.time_zone, as printed


def _money(value: str | Decimal) -> str:
    return f"${Decimal(value):,.2f}"


def _long(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() or "" for page in reader.pages))


class _Policy:
    def __init__(self, client: AsyncClient, agent: Login, admin: Login, policy: dict[str, Any]):
        self.client, self.agent, self.admin = client, agent, admin
        self.id = policy["id"]
        self.number = policy["number"]
        self.url = f"/api/v1/policies/{policy['id']}"
        self.inception = date.fromisoformat(policy["inception_on"])
        self.state = str(policy["state"])

    async def run(self, on: date, *, today: date | None = None) -> dict[str, Any]:
        """The run for ``on``, made on ``today`` (``on`` unless a missed day is caught up)."""
        with frozen_at(noon(today or on)):
            response = await self.client.post(
                "/api/v1/billing/runs",
                json={"on": on.isoformat()},
                headers=await relogin(self.client, self.admin),
            )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def installments(self) -> list[dict[str, Any]]:
        account = await self.client.get(f"{self.url}/billing", headers=self.agent.headers)
        return list(account.json()["installments"])

    async def page(self, runtime: Runtime, kind: str, filename: str) -> str:
        await draw_documents(runtime)
        listed = await self.client.get(f"{self.url}/documents", headers=self.agent.headers)
        found = [
            d for d in listed.json()["items"] if (d["kind"], d["filename"]) == (kind, filename)
        ]
        assert len(found) == 1, (kind, filename, listed.json()["items"])
        assert found[0]["status"] == "ready"
        pdf = await self.client.get(
            f"/api/v1/documents/{found[0]['id']}", headers=self.agent.headers
        )
        assert pdf.status_code == 200
        return _text(pdf.content)


async def _bind_monthly(client: AsyncClient, runtime: Runtime) -> _Policy:
    agent = await user_login(client, runtime, Role.AGENT)
    admin = await user_login(client, runtime, Role.ADMIN)
    body = person(
        first_name=FIRST,
        last_name=LAST,
        address={
            "line1": "ул. Пушкина, 10",
            "city": "Austin",
            "state": "TX",
            "postal_code": "78701",
        },
    )
    customer = (await client.post("/api/v1/customers", json=body, headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind",
        json={"option": "standard", "payment_plan": "monthly"},
        headers=agent.headers,
    )
    assert bound.status_code == 201, bound.text
    return _Policy(client, agent, admin, bound.json())


async def test_a_monthly_policys_invoices_and_its_notice_of_cancellation(
    client: AsyncClient, runtime: Runtime
) -> None:
    policy = await _bind_monthly(client, runtime)
    settings = get_settings()
    assert (await policy.run(policy.inception - timedelta(days=10)))["invoiced"] == 1
    first = (await policy.installments())[0]
    paid = await client.post(
        f"{policy.url}/payments",
        json={"amount": first["amount"]},
        headers={**policy.agent.headers, "Idempotency-Key": "first"},
    )
    assert paid.status_code in (200, 201), paid.text

    # Installment 2: invoiced 15 days ahead of its due date, the first one paid.
    second_due = add_months(policy.inception, 1)
    assert (await policy.run(second_due - timedelta(days=15)))["invoiced"] == 1
    rows = await policy.installments()
    count = len([r for r in rows if r["status"] != "cancelled"])
    second = rows[1]
    assert second["due_on"] == second_due.isoformat()
    assert second["invoice_number"]
    text = await policy.page(runtime, "invoice", f"{second['invoice_number']}.pdf")
    total = Decimal(second["amount"]) + Decimal(second["fee"])
    balance = (await client.get(f"{policy.url}/billing", headers=policy.agent.headers)).json()
    expected = [
        f"Invoice {second['invoice_number']}",
        policy.number,
        f"Installment 2 of {count}",
        f"{shipped('personal_auto', policy.state).product_name} ({policy.state})",
        _money(second["amount"]),
        "Installment fee",
        _money(second["fee"]),
        f"Total amount due {_long(second_due)} {_money(total)}",
        _money(balance["balance"]),
        f"{FIRST} {LAST}",  # the insured, as written
        f"12:01 a.m. standard time, {ZONE}",
        "ул. Пушкина, 10",
        "Austin, TX 78701",
        _money(first["amount"]),  # the payment since the last invoice
        *settings.carrier_remit_to,
        settings.carrier_name,
        "Payment coupon",
        "Amount enclosed",
    ]
    missing = [x for x in expected if x not in text]
    assert not missing, (missing, text)
    assert "personal_auto" not in text
    assert "Past due" not in text, "the first installment was paid"
    coupon = text[text.index("Payment coupon") :]
    assert second["invoice_number"] in coupon
    assert _money(total) in coupon
    assert f"{FIRST} {LAST}" in coupon

    # Installment 2 unpaid past grace: the notice, with the dates the run set on its row.
    noticed_on = second_due + timedelta(days=11)
    assert (await policy.run(noticed_on))["notices"] == 1
    async with runtime.db.unit_of_work() as session:
        stored = await repository.installments(session, uuid.UUID(policy.id))
    row = next(r for r in stored if r.invoice_number == second["invoice_number"])
    assert row.notice_sent_on == noticed_on
    assert row.cancel_effective_on is not None
    notice = await policy.page(
        runtime,
        "cancellation_notice",
        f"{second['invoice_number']}-notice-{noticed_on:%Y%m%d}.pdf",
    )
    unpaid = (await policy.installments())[1]
    assert Decimal(unpaid["outstanding"]) == total
    expected = [
        "Notice of cancellation for non-payment of premium",
        _long(noticed_on),
        policy.number,
        second["invoice_number"],
        f"Amount due {_money(unpaid['outstanding'])}",
        f"12:01 a.m. standard time, {ZONE}, on {_long(row.cancel_effective_on)}",
        f"12:01 a.m. standard time, {ZONE}",  # the policy period
        f"at least {(row.cancel_effective_on - noticed_on).days} days' notice",
        f"by {_long(row.cancel_effective_on - timedelta(days=1))}",
        f"{FIRST} {LAST}",
        *settings.carrier_remit_to,
        "Payment coupon",
    ]
    missing = [x for x in expected if x not in notice]
    assert not missing, (missing, notice)

    # Installment 3's invoice carries installment 2 as past due, with its invoice number.
    third_due = add_months(policy.inception, 2)
    assert (await policy.run(third_due - timedelta(days=15)))["invoiced"] == 1
    third = (await policy.installments())[2]
    text = await policy.page(runtime, "invoice", f"{third['invoice_number']}.pdf")
    assert f"Installment 3 of {count}" in text
    assert (
        f"Past due: invoice {second['invoice_number']} {_long(second_due)} {_money(total)}" in text
    )
    owed = total + Decimal(third["amount"]) + Decimal(third["fee"])
    assert f"Total amount due {_long(third_due)} {_money(owed)}" in text
    # ... and the notice still pending, as the notice words it (not "a notice will be sent").
    pay_by = _long(row.cancel_effective_on - timedelta(days=1))
    assert f"sent to you on {_long(noticed_on)}" in text
    assert f"pay {_money(total)} by {pay_by} to keep your policy" in text
    assert "will be sent to you" not in text


async def test_a_second_run_the_same_day_sends_no_second_notice(
    client: AsyncClient, runtime: Runtime
) -> None:
    policy = await _bind_monthly(client, runtime)
    await policy.run(policy.inception - timedelta(days=10))
    late = policy.inception + timedelta(days=11)
    assert (await policy.run(late))["notices"] == 1
    assert (await policy.run(late))["notices"] == 0
    listed = await client.get(f"{policy.url}/documents", headers=policy.agent.headers)
    kinds = [d["kind"] for d in listed.json()["items"]]
    assert kinds.count("cancellation_notice") == 1
    assert kinds.count("invoice") == 1


async def test_a_notice_from_a_catch_up_run_is_dated_when_mailed_and_gives_full_notice(
    client: AsyncClient, runtime: Runtime
) -> None:
    """The run of a missed day, caught up a week later, mails its notice that later day: the
    notice is dated then and the cancellation is the full notice period after it (dated the
    missed day it gave 3 real days while saying "at least 10")."""
    policy = await _bind_monthly(client, runtime)
    await policy.run(policy.inception - timedelta(days=10))
    missed = policy.inception + timedelta(days=11)
    mailed = missed + timedelta(days=7)
    assert (await policy.run(missed, today=mailed))["notices"] == 1
    async with runtime.db.unit_of_work() as session:
        account = await repository.account(session, uuid.UUID(policy.id))
        stored = await repository.installments(session, uuid.UUID(policy.id))
    assert account is not None
    row = stored[0]
    assert row.notice_sent_on == mailed
    assert row.cancel_effective_on == mailed + timedelta(days=account.notice_days)
    notice = await policy.page(
        runtime, "cancellation_notice", f"{row.invoice_number}-notice-{mailed:%Y%m%d}.pdf"
    )
    expected = [
        f"Notice date {_long(mailed)}",
        f"standard time, {ZONE}, on {_long(row.cancel_effective_on)}",
        f"at least {account.notice_days} days' notice",
        f"by {_long(row.cancel_effective_on - timedelta(days=1))}",
    ]
    missing = [x for x in expected if x not in notice]
    assert not missing, (missing, notice)
    assert _long(missed) not in notice

    # Not cancelled when a notice dated the missed day would have cancelled it.
    early = missed + timedelta(days=account.notice_days)
    assert (await policy.run(early))["cancellations"] == 0
    cancel_on = row.cancel_effective_on
    assert (await policy.run(cancel_on - timedelta(days=1)))["cancellations"] == 0
    assert (await policy.run(cancel_on))["cancellations"] == 1


async def test_an_invoice_issued_in_the_run_that_sends_a_notice_states_it(
    client: AsyncClient, runtime: Runtime
) -> None:
    """One run sends installment 1's notice and invoices installment 2: the invoice gives the
    notice's date, amount and pay-by day, never a later due date as the only deadline."""
    policy = await _bind_monthly(client, runtime)
    await policy.run(policy.inception - timedelta(days=10))
    on = add_months(policy.inception, 1) - timedelta(days=15)
    result = await policy.run(on)
    assert (result["notices"], result["invoiced"]) == (1, 1)
    first, second = (await policy.installments())[:2]
    async with runtime.db.unit_of_work() as session:
        stored = await repository.installments(session, uuid.UUID(policy.id))
    cancel_on = stored[0].cancel_effective_on
    assert cancel_on is not None
    notice = await policy.page(
        runtime, "cancellation_notice", f"{first['invoice_number']}-notice-{on:%Y%m%d}.pdf"
    )
    invoice = await policy.page(runtime, "invoice", f"{second['invoice_number']}.pdf")
    pay_by = _long(cancel_on - timedelta(days=1))
    owed = _money(first["outstanding"])
    assert f"Amount due {owed}" in notice
    assert f"Pay by {pay_by}" in notice
    expected = [
        f"A notice of cancellation for non-payment of premium was sent to you on {_long(on)}",
        f"for invoice {first['invoice_number']}: pay {owed} by {pay_by} to keep your policy",
        f"standard time, {ZONE}, on {_long(cancel_on)}",
        f"To keep your policy {owed} by {pay_by}",
    ]
    missing = [x for x in expected if x not in invoice]
    assert not missing, (missing, invoice)
    assert "will be sent to you" not in invoice
