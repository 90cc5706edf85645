"""Upgrading a database that holds business: the billing backfill (migration 0007) must give
billing exactly the records the running code writes for the same policies.

The demo book is made at head and worked through the served API (an endorsement, a
cancellation and its reinstatement, a renewal accepted), billing's own tables are read, the
database is taken back to 0006 (before billing kept them) and upgraded again: the backfill,
from the policy transactions alone, must rebuild the same accounts, terms and premium pieces.
(Out-of-sequence reversals, from 0008 on, cannot be taken back below 0008.)
"""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
from alembic import command
from sqlalchemy import make_url

from pd_prime_demo.core import clock
from pd_prime_demo.core.database import _alembic_config, to_async_url
from pd_prime_demo.seed import DEMO_PASSWORD

BILLING_TABLES = {
    "billing_accounts": """
        SELECT policy_id, policy_number, policy_serial, customer_id, product_code, state,
               payment_plan, installment_fee, invoice_lead_days, grace_days, notice_days
        FROM billing_accounts ORDER BY policy_id""",
    "billing_terms": """
        SELECT policy_id, term_start, term_end, total, cover_ends_on
        FROM billing_terms ORDER BY policy_id, term_start""",
    "premium_earnings": """
        SELECT policy_id, source_id, product_code, state, accounting_on, amount, start_on,
               end_on, basis, term_start, term_end
        FROM premium_earnings ORDER BY policy_id, id""",
}


async def _read(url: str) -> dict[str, list[dict[str, Any]]]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        return {
            table: [dict(row) for row in await conn.fetch(query)]
            for table, query in BILLING_TABLES.items()
        }
    finally:
        await conn.close()


def _work_the_book(base: str) -> None:
    token = httpx.post(
        f"{base}/api/v1/auth/token",
        data={
            "grant_type": "password",
            "username": "admin@demo.pdprime.example",
            "password": DEMO_PASSWORD,
        },
    ).json()["access_token"]
    api = httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"})
    policies = {p["number"]: p for p in api.get("/policies?limit=50").json()["items"]}

    def change(policy_id: str, path: str, body: dict[str, Any] | None = None) -> None:
        etag = api.get(f"/policies/{policy_id}").headers["ETag"]
        response = api.post(f"/policies/{policy_id}/{path}", json=body, headers={"If-Match": etag})
        assert response.status_code == 201, response.text

    soon = clock.today() + timedelta(days=20)
    by_plan = {
        p["payment_plan"]: p for p in policies.values() if p["product_code"] == "personal_auto"
    }
    annual, monthly = by_plan["annual"]["id"], by_plan["monthly"]["id"]
    change(
        annual,
        "endorsements",
        {"effective_on": soon.isoformat(), "risk": {"policy": {"multi_policy": True}}},
    )
    change(
        monthly,
        "cancellations",
        {"effective_on": soon.isoformat(), "reason_code": "insured_request"},
    )
    change(monthly, "reinstatements", {})
    change(
        monthly,
        "cancellations",
        {"effective_on": (soon + timedelta(days=5)).isoformat(), "reason_code": "insured_request"},
    )
    home = next(p["id"] for p in policies.values() if p["product_code"] != "personal_auto")
    change(home, "renewals")


def test_billing_backfill_rebuilds_what_the_code_writes(served: str) -> None:
    url = os.environ["DATABASE_URL"]
    _work_the_book(served)
    written = asyncio.run(_read(url))
    assert len(written["billing_accounts"]) >= 4  # the demo book
    assert len(written["billing_terms"]) > len(written["billing_accounts"])  # a renewal
    assert any(t["cover_ends_on"] is not None for t in written["billing_terms"])
    assert len(written["premium_earnings"]) > len(written["billing_accounts"]) + 4

    config = _alembic_config(to_async_url(url))
    command.downgrade(config, "0006")
    command.upgrade(config, "head")

    assert asyncio.run(_read(url)) == written
