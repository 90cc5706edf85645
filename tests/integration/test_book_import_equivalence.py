"""A converted policy is written exactly as live business would have written it.

One policy lives through the real services on its dates (clock frozen on each day): bound on a
monthly plan, endorsed ahead of its date, cancelled, reinstated, renewed, with the daily
billing run invoicing in between and one payment on the conversion day. Then its history,
taken from its own transactions, is converted into a second policy on the conversion day. The
two must agree row for row: transactions, ledger entries and balances, premium pieces, billing
terms, installments (amounts, due dates, invoices, voids) and what the payment settled.
"""

from __future__ import annotations

import copy
import io
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers import service as customers
from pd_prime_demo.customers.schemas import PersonCreate
from pd_prime_demo.policies import service as policies
from pd_prime_demo.quotes import service as quotes
from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE, QuoteCreate
from tests.factories import noon, person

T = TypeVar("T")
ACTOR = Actor.system("equivalence-test")
START = date(2026, 3, 2)
CONVERSION = START + timedelta(days=200)
PAID = Decimal("612.34")


class Life:
    """A policy lived day by day: work on a day, then that day's billing run."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.today = START
        self.booked: list[date] = []  # the day each transaction was recorded

    async def on(self, day: date, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        await self.until(day)
        with clock.frozen_at(noon(day)):
            async with self.runtime.db.unit_of_work() as session:
                return await work(session)

    async def until(self, day: date) -> None:
        """The billing runs of the days before ``day`` (at the end of each)."""
        while self.today < day:
            with clock.frozen_at(noon(self.today)):
                async with self.runtime.db.unit_of_work() as session:
                    await billing.invoice_due(session, through=self.today)
            self.today += timedelta(days=1)


async def _live_policy(runtime: Runtime) -> uuid.UUID:
    life = Life(runtime)

    async def bind(session: AsyncSession) -> uuid.UUID:
        created = await customers.create_customer(
            session, PersonCreate.model_validate(person()), actor=ACTOR, cipher=runtime.cipher
        )
        assert isinstance(created, Ok), created
        body = copy.deepcopy(AUTO_EXAMPLE)
        body["customer_id"] = str(created.value.id)
        body["effective_on"] = START.isoformat()
        quote = await quotes.create_quote(session, QuoteCreate.model_validate(body), actor=ACTOR)
        assert isinstance(quote, Ok), quote
        bound = await policies.bind_quote(
            session, quote.value.id, option="standard", payment_plan="monthly", actor=ACTOR
        )
        assert isinstance(bound, Ok), bound
        return bound.value.policy.id

    policy_id = await life.on(START, bind)

    async def endorse(session: AsyncSession) -> None:
        vehicles = copy.deepcopy(AUTO_EXAMPLE["risk"]["vehicles"])
        vehicles[0]["annual_miles"] = 24000
        done = await policies.endorse(
            session,
            policy_id,
            effective_on=START + timedelta(days=45),  # booked five days ahead
            risk={"vehicles": vehicles},
            coverages={"collision": {"deductible": "500"}},
            note="new commute",
            actor=ACTOR,
        )
        assert isinstance(done, Ok), done

    await life.on(START + timedelta(days=40), endorse)

    async def cancel(session: AsyncSession) -> None:
        done = await policies.cancel(
            session,
            policy_id,
            effective_on=START + timedelta(days=68),
            reason_code="insured_request",
            note="sold the car",
            actor=ACTOR,
        )
        assert isinstance(done, Ok), done

    await life.on(START + timedelta(days=70), cancel)

    async def reinstate(session: AsyncSession) -> None:
        done = await policies.reinstate(
            session, policy_id, effective_on=None, note="changed their mind", actor=ACTOR
        )
        assert isinstance(done, Ok), done

    await life.on(START + timedelta(days=80), reinstate)

    async def renew(session: AsyncSession) -> None:
        assert isinstance(await policies.offer(session, policy_id, actor=ACTOR), Ok)
        assert isinstance(await policies.accept(session, policy_id, actor=ACTOR), Ok)

    term_end = START.replace(month=START.month + 6)
    await life.on(term_end - timedelta(days=30), renew)

    async def pay(session: AsyncSession) -> None:
        account = await billing.account_for(session, policy_id, actor=ACTOR, for_update=True)
        assert isinstance(account, Ok)
        paid = await billing.pay(
            session, account.value, amount=PAID, method="card", idempotency_key="k", actor=ACTOR
        )
        assert isinstance(paid, Ok), paid

    await life.on(CONVERSION, pay)
    return policy_id


_STATE = ("risk", "coverages", "term_premium", "fees", "taxes")


def _as_file(history: list[Any], booked: list[date], customer_id: uuid.UUID) -> dict[str, Any]:
    """The live policy's history in the import format: what a legacy extract would say."""
    transactions = []
    for txn, on in zip(history, booked, strict=True):
        snap = txn.snapshot
        item: dict[str, Any] = {
            "kind": txn.kind,
            "effective_on": txn.effective_on.isoformat(),
            "booked_on": on.isoformat(),
        }
        if txn.kind in ("new_business", "renewal", "endorsement"):
            item.update({name: snap[name] for name in _STATE})
            item["premium"] = snap["coverage_premiums"]
        if txn.kind in ("new_business", "renewal"):
            item.update(term_start=snap["term_start"], term_end=snap["term_end"])
        if txn.kind in ("cancellation", "reinstatement"):
            item["premium_change"] = str(txn.premium_change)
        if txn.kind == "cancellation":
            item["reason_code"] = txn.reason_code
        if txn.note is not None:
            item["note"] = txn.note
        transactions.append(item)
    transactions[0]["paid_to_date"] = str(PAID)
    return {
        "number": "LEGACY-0001",
        "customer_id": str(customer_id),
        "product_code": "personal_auto",
        "state": "TX",
        "payment_plan": "monthly",
        "option": "standard",
        "transactions": transactions,
    }


async def _rows(session: AsyncSession, sql: str, policy_id: uuid.UUID) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in await session.execute(text(sql), {"p": policy_id})]


TRANSACTIONS = (
    "SELECT seq, kind, effective_on, accounting_on, term_start, term_end, product_version_id, "
    "premium_change, fees_change, taxes_change, snapshot, earnings, reason_code, note, change "
    "FROM policy_transactions WHERE policy_id = :p ORDER BY seq"
)
ENTRIES = (
    "SELECT j.source, j.accounting_on, array_agg(l.account || ' ' || l.debit || ' ' || l.credit "
    "ORDER BY l.account) FROM ledger_journal j JOIN ledger_lines l ON l.journal_id = j.id "
    "WHERE j.policy_id = :p GROUP BY j.id"
)
PIECES = (
    "SELECT accounting_on, amount, start_on, end_on, basis, term_start, term_end, product_code, "
    "state FROM premium_earnings WHERE policy_id = :p"
)
TERMS = "SELECT term_start, term_end, total, cover_ends_on FROM billing_terms WHERE policy_id = :p"
INSTALLMENTS = (
    "SELECT term_start, seq, due_on, amount, fee, invoice_number IS NOT NULL, invoiced_on, "
    "cancelled_on FROM installments WHERE policy_id = :p ORDER BY term_start, seq"
)
SETTLED = "SELECT amount, settled FROM payments WHERE policy_id = :p"


def _without_invoice_numbers(rows: list[tuple[Any, ...]]) -> list[Any]:
    """What payments settled, but for the invoice numbers (they carry the policy's serial)."""
    return [
        (amount, [{k: v for k, v in item.items() if k != "invoice_number"} for item in settled])
        for amount, settled in rows
    ]


async def test_a_converted_policy_writes_what_live_business_wrote(runtime: Runtime) -> None:
    live_id = await _live_policy(runtime)
    async with runtime.db.sessionmaker() as session:
        history = await policies.transactions(session, live_id)
        found = await policies.get_policy(session, live_id, actor=ACTOR)
        assert isinstance(found, Ok)
        customer_id = found.value.customer_id
    booked = [
        START,
        START + timedelta(days=40),
        START + timedelta(days=70),
        START + timedelta(days=80),
        START.replace(month=START.month + 6) - timedelta(days=30),
    ]
    item = _as_file(history, booked, customer_id)
    with clock.frozen_at(noon(CONVERSION)):
        async with runtime.db.unit_of_work() as session:
            read = list(policies.read_json(io.StringIO(json.dumps([item]))))
            result = await policies.import_book(session, read, actor=ACTOR, cipher=runtime.cipher)
    assert isinstance(result, Ok), result
    assert result.value.problems == [], result.value.problems
    loaded = result.value.loaded[0]
    assert loaded.difference == Decimal("0.00"), "the live figures are this engine's"
    converted_id = loaded.policy_id
    assert converted_id is not None
    async with runtime.db.sessionmaker() as session:
        for sql in (TRANSACTIONS, TERMS, INSTALLMENTS):
            live = await _rows(session, sql, live_id)
            assert await _rows(session, sql, converted_id) == live, sql
        for sql in (ENTRIES, PIECES):  # the same entries, in any order
            live = sorted(await _rows(session, sql, live_id), key=repr)
            assert sorted(await _rows(session, sql, converted_id), key=repr) == live, sql
        live_paid = _without_invoice_numbers(await _rows(session, SETTLED, live_id))
        assert _without_invoice_numbers(await _rows(session, SETTLED, converted_id)) == live_paid
        assert await billing.balances(session, policy_id=converted_id) == await billing.balances(
            session, policy_id=live_id
        )
        kinds = [t.kind for t in history]
        assert kinds == ["new_business", "endorsement", "cancellation", "reinstatement", "renewal"]
        assert (await billing.trial_balance(session)).balanced
