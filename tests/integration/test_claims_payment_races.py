"""Concurrent payments on one exposure against the real server: the claim's row lock puts them
one after another, so together they never exceed the limit net of the deductible; the same
Idempotency-Key sent 20 times at once pays once. No 5xx, and the ledger balances."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
from sqlalchemy import make_url
from typer.testing import CliRunner

from pd_prime_demo import cli
from pd_prime_demo.seed import DEMO_PASSWORD

LIMIT, DEDUCTIBLE, EACH = Decimal("10000.00"), Decimal("500.00"), Decimal("950.00")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _exposure(url: str) -> tuple[uuid.UUID, uuid.UUID]:
    """A claim on a demo policy with one collision exposure (limit 10,000, deductible 500),
    written straight to the database: first notice needs a policy in force on the loss date,
    and the demo's policies start in two weeks (the server's clock cannot travel)."""
    conn = await asyncpg.connect(_dsn(url))
    try:
        policy = await conn.fetchrow("SELECT id, customer_id FROM policies ORDER BY id LIMIT 1")
        claim_id, exposure_id = uuid.uuid4(), uuid.uuid4()
        serial = await conn.fetchval("SELECT nextval('claim_number_seq')")
        await conn.execute(
            """INSERT INTO claims (id, serial, number, policy_id, customer_id, product_code,
                 state, loss_at, loss_on, loss_time_zone, cause_code, location, description,
                 reported_at, reported_by, reported_via, coverage_status, coverage_findings,
                 status, updated_at)
               VALUES ($1, $2, $3, $4, $5, 'personal_auto', 'TX', now(), current_date,
                 'America/Chicago', 'collision', $6, 'race', now(), 'tests', 'staff',
                 'verified', '[]', 'open', now())""",
            claim_id,
            serial,
            f"PAC-R-{serial}",
            policy["id"],
            policy["customer_id"],
            json.dumps({"city": "Austin"}),
        )
        await conn.execute(
            """INSERT INTO claim_exposures (id, claim_id, seq, coverage_code, policy_unit,
                 limit_amount, deductible_amount, terms, status, created_by, created_at)
               VALUES ($1, $2, 1, 'collision', 0, $3, $4, 'race', 'open', 'tests', now())""",
            exposure_id,
            claim_id,
            LIMIT,
            DEDUCTIBLE,
        )
    finally:
        await conn.close()
    return claim_id, exposure_id


async def _paid(url: str, claim_id: uuid.UUID) -> tuple[int, Decimal]:
    conn = await asyncpg.connect(_dsn(url))
    try:
        row = await conn.fetchrow(
            "SELECT count(*), coalesce(sum(amount), 0) FROM claim_transactions "
            "WHERE claim_id = $1 AND kind = 'payment'",
            claim_id,
        )
        lines = await conn.fetch(
            "SELECT l.reserve, l.paid, sum(t.reserve_change) AS r, "
            "sum(t.amount) FILTER (WHERE t.kind = 'payment') AS p "
            "FROM claim_reserve_lines l JOIN claim_transactions t ON t.reserve_line_id = l.id "
            "WHERE l.claim_id = $1 GROUP BY l.id",
            claim_id,
        )
    finally:
        await conn.close()
    for line in lines:  # the running totals equal the sums of the transactions
        assert (line["reserve"], line["paid"]) == (line["r"], line["p"] or 0)
    return int(row[0]), Decimal(row[1])


def _no_server_error(responses: list[httpx.Response]) -> None:
    assert all(r.status_code < 500 for r in responses), [(r.status_code, r.text) for r in responses]


async def _race(base: str, url: str) -> None:
    claim_id, exposure_id = await _exposure(url)
    limits = httpx.Limits(max_connections=40)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        token = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "adjuster@demo.pdprime.example",
                "password": DEMO_PASSWORD,
            },
        )
        assert token.status_code == 200, token.text
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
        pay_url = f"/api/v1/claims/{claim_id}/exposures/{exposure_id}/payments"
        body: dict[str, Any] = {
            "cost_type": "indemnity",
            "category": "vehicle_damage",
            "amount": str(EACH),
            "payee": "Austin Body Works",
            "reason": "instalment",
        }

        # 20 different payments at once: 9,500 fits exactly ten of 950.
        responses = await asyncio.gather(
            *(
                client.post(pay_url, json=body, headers={**auth, "Idempotency-Key": f"r-{i}"})
                for i in range(20)
            )
        )
        _no_server_error(responses)
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] * 10 + [409] * 10, [r.text for r in responses]
        refused = [r.json() for r in responses if r.status_code == 409]
        assert {p["code"] for p in refused} == {"claim.limit_exceeded"}
        assert {p["available"] for p in refused} == {"0.00"}
        count, total = await _paid(url, claim_id)
        assert (count, total) == (10, LIMIT - DEDUCTIBLE)

        # One key sent 20 times at once: one payment (expense, outside the limit), 19 replays.
        same = {**auth, "Idempotency-Key": f"same-{uuid.uuid4().hex}"}
        expense = {**body, "cost_type": "expense", "category": "appraisal", "amount": "120.00"}
        repeats = await asyncio.gather(
            *(client.post(pay_url, json=expense, headers=same) for _ in range(20))
        )
        _no_server_error(repeats)
        assert sorted(r.status_code for r in repeats) == [200] * 19 + [201]
        assert len({r.json()["transaction"]["id"] for r in repeats}) == 1
        count, _ = await _paid(url, claim_id)
        assert count == 11


def test_concurrent_payments_never_exceed_the_limit_and_one_key_pays_once(
    served: str, cli_env: str
) -> None:
    asyncio.run(_race(served, cli_env))
    ledger = CliRunner().invoke(cli.app, ["ledger", "check"])
    assert ledger.exit_code == 0, ledger.output
