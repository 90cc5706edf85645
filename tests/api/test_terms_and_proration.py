"""A product's own terms: a nine-month term, proration and earning by months, a cancellation
that returns 90% of the pro-rata premium; all through the API, checked by hand."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.premium.proration import add_months, cents
from pd_prime_demo.products.shipped import shipped
from tests.api.test_billing_defects import receivable_on_installments
from tests.factories import auto_quote, changing, days_ahead, person, user_login


def _nine_months() -> dict[str, Any]:
    raw: dict[str, Any] = shipped("personal_auto", "TX").model_dump(mode="json")
    raw.update(
        version="TX-2026.9M",
        effective_new_business=days_ahead(-1),
        effective_renewal=days_ahead(-1),
        term_months=9,
        proration="months",
    )
    raw["cancellation"] = {
        "method": "percent_of_pro_rata",
        "return_percent_of_pro_rata": "90",
    }
    return raw


async def test_a_nine_month_term_prorated_by_months(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    uploaded = await client.post(
        "/api/v1/products/versions", json=_nine_months(), headers=admin.headers
    )
    assert uploaded.status_code == 201, uploaded.text
    url = f"/api/v1/products/versions/{uploaded.json()['id']}"
    for action in ("approve", "activate"):
        assert (await client.post(f"{url}/{action}", headers=admin.headers)).status_code == 200
    agent = await user_login(client, runtime, Role.AGENT)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    assert quote["rate_version"] == "TX-2026.9M"
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind",
        json={"option": "standard", "payment_plan": "monthly"},
        headers=agent.headers,
    )
    assert bound.status_code == 201, bound.text
    policy = bound.json()
    start = policy["terms"]["term_start"]
    from datetime import date

    start_on = date.fromisoformat(start)
    assert policy["terms"]["term_end"] == add_months(start_on, 9).isoformat()
    purl = f"/api/v1/policies/{policy['id']}"
    account = (await client.get(f"{purl}/billing", headers=agent.headers)).json()
    assert len(account["installments"]) == 9, "one a month"
    p0 = Decimal(policy["terms"]["term_premium"])
    # Endorsed at the third monthiversary: six of nine months remain, whatever their days.
    endorsed = await client.post(
        f"{purl}/endorsements",
        json={
            "effective_on": add_months(start_on, 3).isoformat(),
            "coverages": {"bi": {"limit": "250/500"}},
        },
        headers=await changing(client, agent.headers, purl),
    )
    assert endorsed.status_code == 201, endorsed.text
    p1 = Decimal(endorsed.json()["snapshot"]["term_premium"])
    change = Decimal(endorsed.json()["premium_change"])
    assert change == cents((p1 - p0) * 6 / 9)
    # The insured cancels at month six: 90% of the pro-rata return (three months of nine).
    cancel_on = add_months(start_on, 6)
    cancelled = await client.post(
        f"{purl}/cancellations",
        json={"effective_on": cancel_on.isoformat(), "reason_code": "insured_request"},
        headers=await changing(client, agent.headers, purl),
    )
    assert cancelled.status_code == 201, cancelled.text
    written = p0 + change
    # Each written piece returns what it leaves unearned: the bind's three months of nine, the
    # endorsement's (written at month three for six months) three of its six.
    pro_rata_return = cents(p0 * 3 / 9) + cents(change * 3 / 6)
    assert Decimal(cancelled.json()["premium_change"]) == -cents(pro_rata_return * Decimal("0.9"))
    assert cancelled.json()["snapshot"]["cancellation"]["method"] == "percent_of_pro_rata"
    await receivable_on_installments(client, session, agent.headers, policy["id"])
    # Earned by months: what is kept is earned by the term's end (each piece rounds to the cent
    # on its own until then), and three months of nine at the third monthiversary.
    kept = written + Decimal(cancelled.json()["premium_change"])
    term_end = add_months(start_on, 9)
    figures = await billing.premium_figures(session, start=start_on, end=term_end)
    line = next(f for f in figures if f.product_code == "personal_auto")
    assert line.earned_to_date == kept
    assert line.unearned == 0
    at_three = await billing.premium_figures(
        session, start=start_on, end=add_months(start_on, 3) - timedelta(days=1)
    )
    assert next(f for f in at_three if f.product_code == "personal_auto").earned_to_date == cents(
        p0 * 3 / 9
    )
