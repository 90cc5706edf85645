"""The daily sweeps chunked through the real queue: the billing run of a day is planned as keyset
ranges of accounts (``sweep_chunk_size`` each), every chunk a job in its own transaction; every
due item is done exactly once across chunk boundaries, by one worker or two, a chunk that
fails midway is retried without doing anything twice, and a day run again changes nothing."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.clock import frozen_at
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from pd_prime_demo.worker import SWEEPS, run_once, run_one, run_worker
from tests.factories import Login, auto_quote, noon, person, relogin, user_login

ACCOUNTS = 10
CHUNK = 3
PAID = 3  # accounts that pay their first invoice: no notice, no cancellation


# The three days' runs (first invoices, notices, cancellations), whoever works them: the
# accounts that paid stay in force and have their second installment invoiced by the third.
AFTER_THREE_DAYS = {
    "invoices": ACCOUNTS + PAID,
    "invoice_documents": ACCOUNTS + PAID,
    "invoice_events": ACCOUNTS + PAID,
    "notices": ACCOUNTS - PAID,
    "notice_documents": ACCOUNTS - PAID,
    "cancellations": ACCOUNTS - PAID,
    "doubled": 0,
}


@dataclass
class Book:
    runtime: Runtime
    client: AsyncClient
    inception: date
    policy_ids: list[str]
    agent: Login


@pytest.fixture
async def book(committed_runtime: Runtime) -> AsyncIterator[Book]:
    runtime = committed_runtime
    runtime.settings = runtime.settings.model_copy(update={"sweep_chunk_size": CHUNK})
    app = create_app(runtime=runtime)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        agent = await user_login(client, runtime, Role.AGENT)
        ids, inceptions = [], set()
        for _ in range(ACCOUNTS):
            customer = (
                await client.post("/api/v1/customers", json=person(), headers=agent.headers)
            ).json()
            quote = (
                await client.post(
                    "/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers
                )
            ).json()
            bound = await client.post(
                f"/api/v1/quotes/{quote['id']}/bind",
                json={"option": "standard", "payment_plan": "monthly"},
                headers=agent.headers,
            )
            assert bound.status_code == 201, bound.text
            ids.append(bound.json()["id"])
            inceptions.add(date.fromisoformat(bound.json()["inception_on"]))
        assert len(inceptions) == 1
        yield Book(runtime, client, inceptions.pop(), ids, agent)


async def _rows(runtime: Runtime, sql: str, **params: Any) -> list[Any]:
    async with runtime.db.sessionmaker() as session:
        return list((await session.execute(text(sql), params)).all())


async def _scalar(runtime: Runtime, sql: str, **params: Any) -> Any:
    return (await _rows(runtime, sql, **params))[0][0]


async def _effects(runtime: Runtime) -> dict[str, Any]:
    """What the billing runs did, counted so that anything done twice shows."""
    return {
        "invoices": await _scalar(
            runtime, "SELECT count(*) FROM installments WHERE invoice_number IS NOT NULL"
        ),
        "invoice_documents": await _scalar(
            runtime, "SELECT count(*) FROM documents WHERE kind = 'invoice'"
        ),
        "invoice_events": await _scalar(
            runtime, "SELECT count(*) FROM outbox_events WHERE topic = 'billing.invoiced'"
        ),
        "notices": await _scalar(
            runtime, "SELECT count(*) FROM installments WHERE notice_sent_on IS NOT NULL"
        ),
        "notice_documents": await _scalar(
            runtime, "SELECT count(*) FROM documents WHERE kind = 'cancellation_notice'"
        ),
        "cancellations": await _scalar(
            runtime, "SELECT count(*) FROM policy_transactions WHERE kind = 'cancellation'"
        ),
        # Anything done twice to one item: more than one document, invoice event or ledger
        # entry (the installment fee) for it.
        "doubled": await _scalar(
            runtime,
            "SELECT count(*) FROM (SELECT source_id FROM documents "
            "GROUP BY kind, source_id HAVING count(*) > 1 UNION ALL "
            "SELECT payload->>'invoice' FROM outbox_events WHERE topic = 'billing.invoiced' "
            "GROUP BY 1 HAVING count(*) > 1 UNION ALL "
            "SELECT source_id FROM ledger_journal WHERE source = 'billing.installment_fee' "
            "GROUP BY source_id HAVING count(*) > 1) twice",
        ),
    }


async def _chunk_jobs(runtime: Runtime) -> list[tuple[str, int]]:
    rows = await _rows(
        runtime,
        "SELECT status, attempts FROM procrastinate_jobs WHERE task_name = 'sweeps:chunk' "
        "AND args->>'sweep' = 'billing.run' ORDER BY id",
    )
    return [(row.status, row.attempts) for row in rows]


async def _pay_first_invoices(book: Book, count: int) -> None:
    headers = await relogin(book.client, book.agent)
    for policy_id in book.policy_ids[:count]:
        url = f"/api/v1/policies/{policy_id}"
        account = await book.client.get(f"{url}/billing", headers=headers)
        assert account.status_code == 200, account.text
        amount = account.json()["installments"][0]["amount"]
        paid = await book.client.post(
            f"{url}/payments",
            json={"amount": amount},
            headers={**headers, "Idempotency-Key": f"first-{policy_id}"},
        )
        assert paid.status_code == 201, paid.text


async def _drain(*runtimes: Runtime) -> None:
    """Work the queue with one worker per runtime at once until it holds nothing due."""
    for _ in range(10):
        await asyncio.gather(
            *(run_worker(r, wait=False, install_signal_handlers=False) for r in runtimes)
        )
        if not await _scalar(
            runtimes[0],
            "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')",
        ):
            return
        # A retry waits out its backoff: bring it forward rather than sleep.
        async with runtimes[0].db.unit_of_work() as session:
            await session.execute(
                text("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo'")
            )


async def test_a_chunked_billing_run_covers_every_account_once_across_chunks(book: Book) -> None:
    runtime = book.runtime
    accounts = await _scalar(runtime, "SELECT count(*) FROM billing_accounts")
    assert accounts >= ACCOUNTS
    with frozen_at(noon(book.inception - timedelta(days=10))):
        await run_once(runtime)
    jobs = await _chunk_jobs(runtime)
    assert all(status == "succeeded" for status, _ in jobs), jobs
    # Ranges of three accounts in id order, the last one open-ended (the worker's periodic
    # deferrer may have planned the day once more: the same ranges again).
    ranges = await _rows(
        runtime,
        "SELECT DISTINCT args->'args'->>'after', args->'args'->>'upto' FROM procrastinate_jobs "
        "WHERE task_name = 'sweeps:chunk' AND args->>'sweep' = 'billing.run'",
    )
    assert len(ranges) == math.ceil((accounts + 1) / CHUNK)
    assert sum(upto is None for _, upto in ranges) == 1
    invoiced = await _effects(runtime)
    assert invoiced["invoices"] == invoiced["invoice_documents"] == ACCOUNTS
    assert invoiced["invoice_events"] == ACCOUNTS
    assert invoiced["doubled"] == 0
    # Every account got its first installment invoiced (none twice, none left out).
    per_account = await _rows(
        runtime,
        "SELECT policy_id::text, count(*) FILTER (WHERE invoice_number IS NOT NULL) "
        "FROM installments GROUP BY policy_id",
    )
    assert {row[0]: row[1] for row in per_account} == dict.fromkeys(book.policy_ids, 1)

    # Earning: a chunk for each (product, state) with premium, all posted.
    groups = await _rows(
        runtime,
        "SELECT DISTINCT args->'args'->>'product_code', args->'args'->>'state', status "
        "FROM procrastinate_jobs WHERE task_name = 'sweeps:chunk' "
        "AND args->>'sweep' = 'ledger.earn'",
    )
    async with runtime.db.sessionmaker() as session:
        expected = await billing.earning_groups(session)
    assert sorted(groups) == sorted((p, s, "succeeded") for p, s in expected)
    assert expected

    # The same day again: planned and worked again, nothing changes.
    with frozen_at(noon(book.inception - timedelta(days=10))):
        await run_once(runtime)
    assert await _effects(runtime) == invoiced

    await _pay_first_invoices(book, PAID)
    with frozen_at(noon(book.inception + timedelta(days=11))):
        await run_once(runtime)
    noticed = await _effects(runtime)
    assert noticed["notices"] == noticed["notice_documents"] == ACCOUNTS - PAID
    with frozen_at(noon(book.inception + timedelta(days=21))):
        await run_once(runtime)
        await run_once(runtime)  # the cancellation day run twice cancels once
    assert await _effects(runtime) == AFTER_THREE_DAYS


async def test_a_chunk_that_fails_midway_is_retried_and_does_nothing_twice(book: Book) -> None:
    runtime = book.runtime
    # A real failure inside a chunk's transaction: the database refuses the second invoice
    # document written after this point, once (a sequence is not rolled back with the chunk),
    # so the chunk fails after it has issued an invoice, and its retry succeeds.
    async with runtime.db.unit_of_work() as session:
        for statement in (
            "CREATE SEQUENCE chunk_failure",
            "CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF nextval('chunk_failure') = 2 THEN RAISE EXCEPTION 'injected failure'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER fail_once BEFORE INSERT ON documents FOR EACH ROW "
            "WHEN (NEW.kind = 'invoice') EXECUTE FUNCTION fail_once()",
        ):
            await session.execute(text(statement))
    day = noon(book.inception - timedelta(days=10))
    with frozen_at(day):
        await run_one(runtime, "billing.run", SWEEPS["billing.run"])
        await _drain(runtime)
    jobs = await _chunk_jobs(runtime)
    assert all(status == "succeeded" for status, _ in jobs), jobs
    assert sorted(attempts for _, attempts in jobs)[-1] == 2, "one chunk ran twice"
    failed = await _scalar(
        runtime, "SELECT count(*) FROM job_errors WHERE error LIKE '%injected failure%'"
    )
    assert failed == 1
    effects = await _effects(runtime)
    assert effects["invoices"] == effects["invoice_documents"] == effects["invoice_events"]
    assert effects["invoices"] == ACCOUNTS
    assert effects["doubled"] == 0


async def test_two_workers_draining_one_run_do_what_one_does(book: Book) -> None:
    runtime = book.runtime
    second = Runtime.create(runtime.settings)
    try:
        days = (
            book.inception - timedelta(days=10),
            book.inception + timedelta(days=11),
            book.inception + timedelta(days=21),
        )
        for day in days:
            if day == days[1]:
                await _pay_first_invoices(book, PAID)
            with frozen_at(noon(day)):
                await run_one(runtime, "billing.run", SWEEPS["billing.run"])
                await _drain(runtime, second)
        effects = await _effects(runtime)
    finally:
        await second.close()
    assert effects == AFTER_THREE_DAYS
    assert all(status == "succeeded" for status, _ in await _chunk_jobs(runtime))


async def test_quote_expiry_in_chunks_expires_each_quote_once(committed_runtime: Runtime) -> None:
    runtime = committed_runtime
    runtime.settings = runtime.settings.model_copy(update={"sweep_chunk_size": 2})
    app = create_app(runtime=runtime)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        agent = await user_login(client, runtime, Role.AGENT)
        expiries = set()
        for _ in range(5):
            customer = (
                await client.post("/api/v1/customers", json=person(), headers=agent.headers)
            ).json()
            quote = await client.post(
                "/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers
            )
            assert quote.status_code == 201, quote.text
            expiries.add(quote.json()["expires_on"])
    day = date.fromisoformat(max(expiries)) + timedelta(days=1)
    with frozen_at(noon(day)):
        await run_once(runtime)
        await run_once(runtime)  # the same day again: nothing expires twice
    expired = await _scalar(runtime, "SELECT count(*) FROM quotes WHERE status = 'expired'")
    events = await _scalar(
        runtime, "SELECT count(*) FROM outbox_events WHERE topic = 'quote.expired'"
    )
    assert expired == events == 5
    chunks = await _rows(
        runtime,
        "SELECT DISTINCT args->'args'->'ids' FROM procrastinate_jobs "
        "WHERE task_name = 'sweeps:chunk' AND args->>'sweep' = 'quotes.expire'",
    )
    # Pages of two quotes in (expires_on, id) order: three chunks, however often planned.
    assert sorted(len(ids) for (ids,) in chunks) == [1, 2, 2]
