"""``pd-prime bench api --suite policies``: bind, read-policy and pay through the real server
and PostgreSQL, beside bare FastAPI + asyncpg endpoints doing the same database work.

The bare endpoints (served only by the benchmark app) skip everything but SQL: no auth, no
ORM, no audit chain lock, no PDF rendering. ``bind`` writes the same rows in one transaction
(policy, transaction, journal and lines, billing account, term and premium piece, installment,
quote status, audit and outbox rows, a document row); ``read`` is one query; ``pay`` writes
the payment, its journal, audit and outbox.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI, HTTPException

from pd_prime_demo.bench.load import (
    Request,
    ServerCpu,
    ServerInstructions,
    agent_quote,
    compare,
    describe,
    describe_ratio,
)

_pool: asyncpg.Pool | None = None
_pool_lock = asyncio.Lock()


async def bare_pool() -> asyncpg.Pool:
    """The baselines' own asyncpg pool (no SQLAlchemy), opened by the first request."""
    global _pool
    async with _pool_lock:  # concurrent first requests must share one pool
        if _pool is None:
            from sqlalchemy import make_url

            url = make_url(os.environ["DATABASE_URL"]).set(drivername="postgresql")
            _pool = await asyncpg.create_pool(
                url.render_as_string(hide_password=False), min_size=2, max_size=10
            )
    return _pool


def add_bare_routes(app: FastAPI) -> None:
    @app.get("/bench/bare/policies/{policy_id}", include_in_schema=False)
    async def bare_read(policy_id: uuid.UUID) -> dict[str, Any]:
        row = await (await bare_pool()).fetchrow(
            "SELECT p.id, p.number, p.inception_on, t.snapshot FROM policies p "
            "JOIN LATERAL (SELECT snapshot FROM policy_transactions WHERE policy_id = p.id "
            "ORDER BY effective_on DESC, seq DESC LIMIT 1) t ON true WHERE p.id = $1",
            policy_id,
        )
        if row is None:
            raise HTTPException(404)
        return {
            "id": str(row["id"]),
            "number": row["number"],
            "in_force": json.loads(row["snapshot"]),
        }

    @app.post("/bench/bare/bind/{quote_id}", include_in_schema=False, status_code=201)
    async def bare_bind(quote_id: uuid.UUID) -> dict[str, Any]:
        async with (await bare_pool()).acquire() as conn, conn.transaction():
            quote = await conn.fetchrow("SELECT * FROM quotes WHERE id = $1 FOR UPDATE", quote_id)
            if quote is None or quote["status"] != "quoted":
                raise HTTPException(409)
            rating = json.loads(quote["rating"])[0]
            serial = await conn.fetchval("SELECT nextval('policy_number_seq')")
            policy_id, txn_id = uuid.uuid4(), uuid.uuid4()
            await conn.execute(
                "INSERT INTO policies (id, serial, number, quote_id, customer_id, product_code, "
                "state, inception_on, payment_plan, created_at, created_by) VALUES "
                "($1, $2, $3, $4, $5, $6, $7, $8, 'annual', now(), 'bench')",
                policy_id,
                serial,
                f"PA-TX-{serial:07d}",
                quote_id,
                quote["customer_id"],
                quote["product_code"],
                quote["state"],
                quote["effective_on"],
            )
            premium = rating["premium"]
            await conn.execute(
                "INSERT INTO policy_transactions (id, policy_id, seq, kind, effective_on, "
                "accounting_on, term_start, term_end, product_version_id, premium_change, "
                "fees_change, taxes_change, snapshot, earnings, created_at, created_by) VALUES "
                "($1, $2, 1, 'new_business', $3::date, $3::date, $3::date, $3::date + 182, $4, "
                "$5::numeric, 25, 0, $6, "
                "'[]', now(), 'bench')",
                txn_id,
                policy_id,
                quote["effective_on"],
                quote["product_version_id"],
                premium,
                json.dumps({"status": "in_force", "rating": rating}),
            )
            journal = await conn.fetchval(
                "INSERT INTO ledger_journal (occurred_at, accounting_on, policy_id, source, "
                "source_id, memo) VALUES (now(), current_date, $1, 'bench', $2, 'bench') "
                "RETURNING id",
                policy_id,
                str(txn_id),
            )
            await conn.executemany(
                "INSERT INTO ledger_lines (journal_id, account, debit, credit) "
                "VALUES ($1, $2, $3::numeric, $4::numeric)",
                [
                    (journal, "premium_receivable", str(float(premium) + 25), "0"),
                    (journal, "unearned_premium", "0", premium),
                    (journal, "fee_income", "0", "25"),
                ],
            )
            await conn.execute(
                "INSERT INTO billing_accounts (policy_id, policy_number, policy_serial, "
                "customer_id, product_code, state, payment_plan, installment_fee, "
                "invoice_lead_days, grace_days, notice_days, opened_at) VALUES "
                "($1, $2, $3, $4, $5, $6, 'annual', 0, 15, 10, 10, now())",
                policy_id,
                f"PA-TX-{serial:07d}",
                serial,
                quote["customer_id"],
                quote["product_code"],
                quote["state"],
            )
            await conn.execute(
                "INSERT INTO billing_terms (policy_id, term_start, term_end, total) "
                "VALUES ($1, $2::date, $2::date + 182, $3::numeric + 25)",
                policy_id,
                quote["effective_on"],
                premium,
            )
            await conn.execute(
                "INSERT INTO premium_earnings (policy_id, source_id, product_code, state, "
                "accounting_on, recorded_at, amount, start_on, end_on, basis, term_start, "
                "term_end) VALUES ($1, $2, $3, $4, $5::date, now(), $6::numeric, $5::date, "
                "$5::date + 182, 'days', $5::date, $5::date + 182)",
                policy_id,
                txn_id,
                quote["product_code"],
                quote["state"],
                quote["effective_on"],
                premium,
            )
            await conn.execute(
                "INSERT INTO installments (id, policy_id, term_start, seq, due_on, amount, fee) "
                "VALUES ($1, $2, $3::date, 1, $3::date, $4::numeric + 25, 0)",
                uuid.uuid4(),
                policy_id,
                quote["effective_on"],
                premium,
            )
            await conn.execute(
                "UPDATE quotes SET status = 'bound', version = version + 1 WHERE id = $1", quote_id
            )
            await _audit_and_outbox(conn, policy_id)
            await conn.execute(
                "INSERT INTO documents (id, policy_id, kind, source_id, filename, media_type, "
                "content, sha256, created_at) VALUES ($1, $2, 'declarations', $3, 'd.pdf', "
                "'application/pdf', $4, $5, now())",
                uuid.uuid4(),
                policy_id,
                str(txn_id),
                b"%PDF-bench",
                secrets.token_hex(32),
            )
        return {"id": str(policy_id)}

    @app.post("/bench/bare/payments/{policy_id}", include_in_schema=False, status_code=201)
    async def bare_pay(policy_id: uuid.UUID) -> dict[str, Any]:
        async with (await bare_pool()).acquire() as conn, conn.transaction():
            payment_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO payments (id, policy_id, amount, method, idempotency_key, "
                "request_hash, received_at, received_by) VALUES ($1, $2, 1, 'card', $3, $4, "
                "now(), 'bench')",
                payment_id,
                policy_id,
                secrets.token_hex(8),
                secrets.token_hex(32),
            )
            journal = await conn.fetchval(
                "INSERT INTO ledger_journal (occurred_at, accounting_on, policy_id, source, "
                "source_id, memo) VALUES (now(), current_date, $1, 'bench', $2, 'bench') "
                "RETURNING id",
                policy_id,
                str(payment_id),
            )
            await conn.executemany(
                "INSERT INTO ledger_lines (journal_id, account, debit, credit) "
                "VALUES ($1, $2, $3, $4)",
                [(journal, "cash", 1, 0), (journal, "premium_receivable", 0, 1)],
            )
            await _audit_and_outbox(conn, policy_id)
        return {"id": str(payment_id)}


async def _audit_and_outbox(conn: asyncpg.Connection, policy_id: uuid.UUID) -> None:
    await conn.execute(
        "INSERT INTO audit_log (occurred_at, actor_kind, actor_id, action, resource_type, "
        "resource_id, changes, prev_hash, hash) VALUES (now(), 'system', 'bench', 'bench', "
        "'policy', $1, '{}', $2, $3)",
        str(policy_id),
        "0" * 64,
        secrets.token_hex(32),
    )
    await conn.execute(
        "INSERT INTO outbox_events (occurred_at, topic, aggregate_type, aggregate_id, payload) "
        "VALUES (now(), 'bench', 'policy', $1, '{}')",
        str(policy_id),
    )


async def run_policy_suite(
    client: httpx.AsyncClient,
    database_url: str,
    *,
    seconds: float,
    concurrency: int,
    echo: Callable[[str], object],
    cpu: ServerCpu | None = None,
    instructions: ServerInstructions | None = None,
) -> dict[str, float]:
    """Bind, read and pay against their bare counterparts; prints figures and ratios."""
    from sqlalchemy import make_url

    headers, body = await agent_quote(client)
    template = (await client.post("/api/v1/quotes", json=body, headers=headers)).json()["id"]
    # Clone the quote in SQL: both bind endpoints consume one quote per request.
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        columns = [
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'quotes' "
                "AND column_name NOT IN ('id', 'number')"
            )
        ]
        cols = ", ".join(columns)
        needed = int(seconds * 1400) + 200  # both binds draw on these; bare ones are fast
        rows = await conn.fetch(
            f"INSERT INTO quotes (id, {cols}) SELECT gen_random_uuid(), {cols} FROM quotes "  # noqa: S608
            f"CROSS JOIN generate_series(1, $2) WHERE id = $1 RETURNING id",
            uuid.UUID(template),
            needed,
        )
    finally:
        await conn.close()
    pool = [str(r["id"]) for r in rows]
    half = len(pool) // 2
    real_quotes, bare_quotes = pool[:half], pool[half:]
    bound: list[str] = []

    def take(queue: list[str]) -> str | None:
        return queue.pop() if queue else None

    def real_bind() -> Request | None:
        quote = take(real_quotes)
        bind = {"option": "standard"}
        return None if quote is None else ("POST", f"/api/v1/quotes/{quote}/bind", bind, headers)

    def bare_bind() -> Request | None:
        quote = take(bare_quotes)
        return None if quote is None else ("POST", f"/bench/bare/bind/{quote}", None, {})

    counter = iter(range(10**9))

    def real_read() -> Request:
        policy = bound[next(counter) % len(bound)]
        return ("GET", f"/api/v1/policies/{policy}", None, headers)

    def bare_read() -> Request:
        policy = bound[next(counter) % len(bound)]
        return ("GET", f"/bench/bare/policies/{policy}", None, {})

    def real_pay() -> Request:
        n = next(counter)
        return (
            "POST",
            f"/api/v1/policies/{bound[n % len(bound)]}/payments",
            {"amount": "1.00"},
            {**headers, "Idempotency-Key": f"bench-{n}"},
        )

    def bare_pay() -> Request:
        return ("POST", f"/bench/bare/payments/{bound[next(counter) % len(bound)]}", None, {})

    # Warm up (first-request imports and caches) and make sure there is a policy to read.
    warm = await client.post(
        f"/api/v1/quotes/{real_quotes.pop()}/bind", json={"option": "standard"}, headers=headers
    )
    if warm.status_code != 201:
        raise RuntimeError(f"warm-up bind failed: {warm.status_code} {warm.text}")
    bound.append(warm.json()["id"])
    await client.post(f"/bench/bare/bind/{bare_quotes.pop()}")
    figures: dict[str, float] = {}
    for name, real, bare in (
        ("bind", real_bind, bare_bind),
        ("read", real_read, bare_read),
        ("pay", real_pay, bare_pay),
    ):
        if name == "read":
            async with asyncpg.create_pool(dsn, min_size=1, max_size=2) as db:
                # The policies bound by this run (the demo book is another agent's, partly).
                rows = await db.fetch(
                    "SELECT id FROM policies WHERE quote_id = ANY($1::uuid[])",
                    [uuid.UUID(q) for q in pool],
                )
                bound[:] = [str(r["id"]) for r in rows]
        compared = await compare(
            client,
            real,
            bare,
            seconds=seconds,
            concurrency=concurrency,
            cpu=cpu,
            instructions=instructions,
        )
        figures[name], figures[f"bare {name}"] = compared.real.rate, compared.baseline.rate
        echo(describe(name, compared.real))
        echo(describe(f"bare {name}", compared.baseline))
        echo(describe_ratio(f"{name} / bare", compared))
    return figures
