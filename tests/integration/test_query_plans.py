"""The book-wide queries and the list pages use their indexes on a carrier-sized book.

A book of tens of thousands of rows is generated in a scratch database by set-based SQL
(``INSERT ... SELECT generate_series``, seconds, not an API loop) and ANALYZEd, so the planner
chooses as it would in production. Each case calls the real repository or service function with
SQLAlchemy's ``before_cursor_execute`` hook recording the SQL it sends (inside a transaction
rolled back at the end), then asks PostgreSQL for the plan of that very statement with its
parameters (``EXPLAIN (FORMAT JSON)``, not run). A case fails when the plan reads one of the
book's big tables by a sequential scan, or when the index the query depends on is not used:
the test follows the code, so a query rewritten without its index, or an index dropped, fails.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from pd_prime_demo import worker
from pd_prime_demo.billing import repository as billing
from pd_prime_demo.claims.service import diary
from pd_prime_demo.claims.service import read as claims
from pd_prime_demo.core import pagination
from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.customers.service import read as customers
from pd_prime_demo.documents import service as documents
from pd_prime_demo.events import relay
from pd_prime_demo.events import service as events
from pd_prime_demo.identity import service as identity
from pd_prime_demo.identity import sessions
from pd_prime_demo.policies import service as policies
from pd_prime_demo.policies.repository import renewals
from pd_prime_demo.quotes import repository as quotes
from pd_prime_demo.quotes.service import read as quotes_read
from pd_prime_demo.quotes.service import underwriting
from tests.conftest import _asyncpg_dsn, create_scratch_database, drop_scratch_database

pytestmark = pytest.mark.asyncio(loop_scope="module")

TODAY = date(2026, 6, 15)
ALL_PERMISSIONS = frozenset(Permission)
RANDOM_PAGE_COST = 1.1
BILLING_RANGE = 500  # accounts a chunk of the billing run (billing.service.delinquency)

# The tables that grow with the book: none may be read whole by a list page or a sweep.
BIG = frozenset(
    {
        "customers",
        "quotes",
        "policies",
        "policy_transactions",
        "billing_accounts",
        "billing_terms",
        "installments",
        "policy_renewals",
        "documents",
        "claims",
        "outbox_events",
        "users",
        "auth_sessions",
        "claim_diary",
        "ledger_journal",
        "ledger_lines",
    }
)

BOOK = """
INSERT INTO users (id, email, password_hash, role, full_name, is_active)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, 'agent' || g || '@book.test',
       'x', 'agent', 'Agent ' || g, true
FROM generate_series(1, 20) g;

-- A login for every customer, two sessions each (one ended).
INSERT INTO users (id, email, password_hash, role, full_name, is_active, created_at, updated_at)
SELECT md5('u' || g)::uuid, 'u' || g || '@book.test', 'x', 'customer', 'User ' || g, true,
       timestamptz '2024-12-01' + g * interval '30 minutes',
       timestamptz '2024-12-01' + g * interval '30 minutes'
FROM generate_series(1, 20000) g;

INSERT INTO auth_sessions (id, user_id, created_at, expires_at, revoked_at)
SELECT md5('s' || g || '-' || s)::uuid, md5('u' || g)::uuid,
       timestamptz '2026-01-01' + g * interval '7 minutes' + s * interval '1 day',
       timestamptz '2026-12-01' + g * interval '7 minutes',
       CASE s WHEN 1 THEN timestamptz '2026-01-05' END
FROM generate_series(1, 20000) g, generate_series(1, 2) s;

INSERT INTO customers (id, kind, first_name, last_name, display_name, email, address_line1, city,
                       state, postal_code, country, agent_id, version, created_at, updated_at)
SELECT md5('c' || g)::uuid, 'person', 'First' || g, 'Last' || g, 'First' || g || ' Last' || g,
       'c' || g || '@book.test', g || ' Main St', 'Springfield', 'OH', '43004', 'US',
       ('00000000-0000-4000-8000-' || lpad(to_hex(1 + g % 20), 12, '0'))::uuid, 1,
       timestamptz '2024-12-01' + g * interval '30 minutes',
       timestamptz '2024-12-01' + g * interval '30 minutes'
FROM generate_series(1, 20000) g;

-- Quotes: most long closed (bound or expired); the last few hundred open.
INSERT INTO quotes (id, number, customer_id, created_by, product_code, state, effective_on,
                    expires_on, status, product_version_id, risk, options, underwriting, version,
                    created_at, updated_at)
SELECT md5('q' || g)::uuid, g, md5('c' || (1 + g % 20000))::uuid, 'system:book', 'personal_auto',
       'OH', date '2025-01-01' + g / 60, date '2025-01-31' + g / 60,
       CASE WHEN g > 39400 THEN (ARRAY['draft', 'quoted', 'referred', 'approved'])[1 + g % 4]
            WHEN g % 3 = 0 THEN 'expired' ELSE 'bound' END,
       (SELECT id FROM product_versions ORDER BY id LIMIT 1), '{}', '[]', '{}', 1,
       timestamptz '2025-01-01' + g * interval '25 minutes',
       timestamptz '2025-01-01' + g * interval '25 minutes'
FROM generate_series(1, 40000) g;

INSERT INTO policies (id, serial, number, quote_id, customer_id, product_code, state,
                      inception_on, payment_plan, created_at, created_by, version, origin)
SELECT md5('p' || g)::uuid, g, 'PA-' || lpad(g::text, 8, '0'), md5('q' || g)::uuid,
       md5('c' || (1 + g % 20000))::uuid, (ARRAY['personal_auto', 'homeowners_ho3'])[1 + g % 2],
       (ARRAY['OH', 'TX', 'FL'])[1 + g % 3], date '2025-01-01' + g / 60, 'monthly',
       timestamptz '2025-01-01' + g * interval '25 minutes', 'system:book', 1, 'bound'
FROM generate_series(1, 30000) g;

-- Two transactions a policy: new business, then an endorsement.
INSERT INTO policy_transactions (id, policy_id, seq, kind, effective_on, accounting_on,
                                 term_start, term_end, product_version_id, premium_change,
                                 fees_change, taxes_change, snapshot, earnings, created_at,
                                 created_by)
SELECT md5('t' || g || '-' || s)::uuid, md5('p' || g)::uuid, s,
       CASE s WHEN 1 THEN 'new_business' ELSE 'endorsement' END,
       date '2025-01-01' + g / 60 + (s - 1) * 40, date '2025-01-01' + g / 60 + (s - 1) * 40,
       date '2025-01-01' + g / 60, date '2026-01-01' + g / 60,
       (SELECT id FROM product_versions ORDER BY id LIMIT 1), 600, 0, 0,
       jsonb_build_object('status', 'in_force', 'term_end', (date '2026-01-01' + g / 60)::text,
                          'term_premium', '600.00'),
       '{}', timestamptz '2025-01-01' + g * interval '25 minutes' + (s - 1) * interval '40 days',
       'system:book'
FROM generate_series(1, 30000) g, generate_series(1, 2) s;

INSERT INTO billing_accounts (policy_id, policy_number, policy_serial, customer_id, product_code,
                              state, payment_plan, installment_fee, invoice_lead_days,
                              grace_days, notice_days, opened_at)
SELECT md5('p' || g)::uuid, 'PA-' || lpad(g::text, 8, '0'), g, md5('c' || (1 + g % 20000))::uuid,
       'personal_auto', 'OH', 'monthly', 3, 14, 10, 10,
       timestamptz '2025-01-01' + g * interval '25 minutes'
FROM generate_series(1, 30000) g;

INSERT INTO billing_terms (policy_id, term_start, term_end, total)
SELECT md5('p' || g)::uuid, date '2025-01-01' + g / 60, date '2026-01-01' + g / 60, 600
FROM generate_series(1, 30000) g;

-- Twelve monthly installments a policy: those due by today are invoiced.
INSERT INTO installments (id, policy_id, term_start, seq, due_on, amount, fee, invoice_number,
                          invoiced_on)
SELECT md5('i' || g || '-' || s)::uuid, md5('p' || g)::uuid, date '2025-01-01' + g / 60, s,
       date '2025-01-01' + g / 60 + (s - 1) * 30, 50, 3,
       CASE WHEN date '2025-01-01' + g / 60 + (s - 1) * 30 <= date '{today}'
            THEN 'INV-' || g || '-' || s END,
       CASE WHEN date '2025-01-01' + g / 60 + (s - 1) * 30 <= date '{today}'
            THEN date '2025-01-01' + g / 60 + (s - 1) * 30 - 14 END
FROM generate_series(1, 30000) g, generate_series(1, 12) s;

-- Renewal offers: a few hundred open, the rest decided.
INSERT INTO policy_renewals (id, policy_id, term_start, term_end, product_version_id,
                             rate_version, premium, fees, taxes, snapshot, status, offered_at)
SELECT md5('r' || g)::uuid, md5('p' || g)::uuid, date '2026-01-01' + g / 60,
       date '2027-01-01' + g / 60, (SELECT id FROM product_versions ORDER BY id LIMIT 1), 'v1',
       600, 0, 0, '{}',
       CASE WHEN g > 19500 THEN 'offered' WHEN g % 5 = 0 THEN 'lapsed' ELSE 'accepted' END,
       timestamptz '2025-11-01' + g * interval '10 minutes'
FROM generate_series(1, 20000) g;

-- Documents: two a policy, drawn but for the last few.
INSERT INTO documents (id, policy_id, kind, source_id, filename, media_type, created_at, status)
SELECT md5('d' || g || '-' || s)::uuid, md5('p' || g)::uuid,
       CASE s WHEN 1 THEN 'declarations' ELSE 'invoice' END, g || '-' || s, 'doc.pdf',
       'application/pdf', timestamptz '2025-01-01' + g * interval '25 minutes' + s * interval '1 s',
       CASE WHEN g > 29990 THEN 'pending' ELSE 'ready' END
FROM generate_series(1, 30000) g, generate_series(1, 2) s;

INSERT INTO claims (id, serial, number, policy_id, customer_id, product_code, state, loss_at,
                    loss_on, loss_time_zone, cause_code, location, description, reported_at,
                    reported_by, reported_via, coverage_status, coverage_findings, status,
                    updated_at)
SELECT md5('cl' || g)::uuid, g, 'CL-' || g, md5('p' || (g * 6))::uuid,
       md5('c' || (1 + (g * 6) % 20000))::uuid, 'personal_auto', 'OH',
       timestamptz '2025-03-01' + g * interval '1 hour', date '2025-03-01' + g / 24, 'UTC',
       'collision', '{}', 'a loss', timestamptz '2025-03-02' + g * interval '1 hour',
       'system:book', 'staff', 'verified', '[]', 'open',
       timestamptz '2025-03-01' + g * interval '1 hour'
FROM generate_series(1, 5000) g;

-- The claims' diaries: four tasks a claim, all done but a few hundred.
INSERT INTO claim_diary (id, claim_id, title, due_on, status, created_by, created_at)
SELECT md5('dy' || g || '-' || s)::uuid, md5('cl' || g)::uuid, 'call back',
       date '2025-03-05' + g / 24 + s * 7, CASE WHEN g > 4900 THEN 'open' ELSE 'done' END,
       'system:book', timestamptz '2025-03-02' + g * interval '1 hour'
FROM generate_series(1, 5000) g, generate_series(1, 4) s;

-- The ledger: an invoice and a payment posted a policy, each a balanced two-line journal.
INSERT INTO ledger_journal (id, occurred_at, accounting_on, policy_id, source, source_id, memo)
OVERRIDING SYSTEM VALUE
SELECT 10000000 + g * 2 + s, timestamptz '2025-01-01' + g * interval '25 minutes',
       date '2025-01-01' + g / 60, md5('p' || g)::uuid,
       CASE s WHEN 0 THEN 'billing.invoice' ELSE 'billing.payment' END, g || '-' || s, 'book'
FROM generate_series(1, 30000) g, generate_series(0, 1) s;

INSERT INTO ledger_lines (journal_id, account, debit, credit)
SELECT 10000000 + g * 2 + s, a.account, a.debit, a.credit
FROM generate_series(1, 30000) g, generate_series(0, 1) s,
     LATERAL (VALUES ('premium_receivable', CASE s WHEN 0 THEN 53 ELSE 0 END,
                      CASE s WHEN 0 THEN 0 ELSE 53 END),
                     (CASE s WHEN 0 THEN 'unearned_premium' ELSE 'cash' END,
                      CASE s WHEN 0 THEN 0 ELSE 53 END, CASE s WHEN 0 THEN 53 ELSE 0 END))
         AS a(account, debit, credit);

-- The outbox: everything published but the last few.
INSERT INTO outbox_events (occurred_at, topic, aggregate_type, aggregate_id, payload,
                           published_at, position, customer_id)
SELECT timestamptz '2025-01-01' + g * interval '5 minutes', 'policy.bound', 'policy', g::text,
       '{}', CASE WHEN g <= 59950 THEN timestamptz '2025-01-01' + g * interval '5 minutes' END,
       CASE WHEN g <= 59950 THEN 1000000 + g END, md5('c' || (1 + g % 20000))::uuid
FROM generate_series(1, 60000) g;

ANALYZE;
"""


@pytest.fixture(scope="module")
async def book(server_url: str, template_database_url: str) -> AsyncIterator[AsyncEngine]:
    url = await create_scratch_database(server_url, template=template_database_url)
    conn = await asyncpg.connect(_asyncpg_dsn(url))
    try:
        await conn.execute(BOOK.replace("{today}", TODAY.isoformat()))
    finally:
        await conn.close()
    engine = create_async_engine(url)
    yield engine
    await engine.dispose()
    await drop_scratch_database(server_url, url)


@dataclass
class Recorder:
    """The statements a block of code sent, with their parameters."""

    statements: list[tuple[str, Any]] = field(default_factory=list)
    on: bool = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.on:
            self.statements.append((statement, parameters))


@dataclass(frozen=True)
class Plan:
    statement: str
    tree: dict[str, Any]

    def nodes(self) -> Iterator[dict[str, Any]]:
        stack = [self.tree]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(node.get("Plans", []))

    def seq_scans(self) -> set[str]:
        return {n["Relation Name"] for n in self.nodes() if n["Node Type"] == "Seq Scan"} & BIG

    def indexes(self) -> set[str]:
        return {n["Index Name"] for n in self.nodes() if "Index Name" in n}

    def __str__(self) -> str:
        lines: list[str] = []

        def walk(node: dict[str, Any], depth: int) -> None:
            what = node.get("Index Name") or node.get("Relation Name") or ""
            lines.append(f"{'  ' * depth}{node['Node Type']} {what} rows={node.get('Plan Rows')}")
            for child in node.get("Plans", []):
                walk(child, depth + 1)

        walk(self.tree, 0)
        return self.statement + "\n" + "\n".join(lines)


async def plans_of(
    book: AsyncEngine,
    call: Callable[[AsyncSession], Awaitable[object]],
    *,
    matching: str,
) -> list[Plan]:
    """The plans of the statements ``call`` sent that contain ``matching``."""
    recorder = Recorder()
    event.listen(book.sync_engine, "before_cursor_execute", recorder)
    try:
        async with book.connect() as conn:
            transaction = await conn.begin()
            try:
                # Plan as on the SSD storage a carrier runs on (docs/operations.md): the
                # default of 4 prices a random read as on a spinning disk.
                await conn.exec_driver_sql(f"SET LOCAL random_page_cost = {RANDOM_PAGE_COST}")
                session = AsyncSession(bind=conn, expire_on_commit=False)
                recorder.on = True
                await call(session)
                recorder.on = False
                return [
                    await _explain(conn, statement, parameters)
                    for statement, parameters in recorder.statements
                    if matching in statement
                ]
            finally:
                await transaction.rollback()
    finally:
        event.remove(book.sync_engine, "before_cursor_execute", recorder)


async def _explain(conn: AsyncConnection, statement: str, parameters: Any) -> Plan:
    result = await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters)
    raw = result.scalar_one()
    document = json.loads(raw) if isinstance(raw, str) else raw
    return Plan(statement, document[0]["Plan"])


def only(plans: list[Plan]) -> Plan:
    assert len(plans) == 1, [p.statement for p in plans]
    return plans[0]


def _id(prefix: str, n: int | str) -> uuid.UUID:
    """The id the book gave row ``n`` of a table (md5 of a prefix and the number)."""
    return uuid.UUID(hashlib.md5(f"{prefix}{n}".encode(), usedforsecurity=False).hexdigest())


SYSTEM = Actor.system("query-plans")
AGENT = Actor.user(uuid.UUID("00000000-0000-4000-8000-000000000003"), Role.AGENT, ALL_PERMISSIONS)
OWNER = Actor.user(_id("u", 1234), Role.CUSTOMER, ALL_PERMISSIONS)
MIDWAY = (date(2025, 6, 1), uuid.UUID(int=0))  # a keyset position part-way through


@dataclass(frozen=True)
class Case:
    name: str
    call: Callable[[AsyncSession], Awaitable[object]]
    matching: str  # a fragment of the statement(s) to explain
    indexes: frozenset[str] = frozenset()  # each must appear in the plan
    allow_seq: frozenset[str] = frozenset()  # big tables this query reads whole by design


def _case(
    name: str,
    call: Callable[[AsyncSession], Awaitable[object]],
    matching: str,
    *indexes: str,
    allow_seq: tuple[str, ...] = (),
    known: str | None = None,
) -> Any:
    """One query; ``known`` names a defect found and not fixed yet (a strict xfail: once the
    query is fixed the case passes, the xfail fails, and the marker must go)."""
    marks = [pytest.mark.xfail(reason=known, strict=True)] if known else []
    return pytest.param(
        Case(name, call, matching, frozenset(indexes), frozenset(allow_seq)), id=name, marks=marks
    )


def _policies(actor: Actor, **where: Any) -> Callable[[AsyncSession], Awaitable[object]]:
    return lambda s: policies.list_policies(
        s, actor=actor, where=policies.PolicyFilter(**where), on=TODAY, cursor=None, limit=50
    )


def _policies_page_two(s: AsyncSession) -> Awaitable[object]:
    cursor = pagination.encode([datetime(2025, 6, 1, tzinfo=UTC), uuid.UUID(int=0)])
    return policies.list_policies(
        s, actor=SYSTEM, where=policies.PolicyFilter(), on=TODAY, cursor=cursor, limit=50
    )


async def _billing_range(s: AsyncSession, *, last: bool) -> object:
    """The work of the second range of accounts as the billing run cuts them (or of the last,
    open-ended one)."""
    if last:
        start = await s.scalar(
            text(
                "SELECT policy_id FROM billing_accounts ORDER BY policy_id DESC OFFSET :n LIMIT 1"
            ),
            {"n": BILLING_RANGE},
        )
        return await billing.billing_work(s, on=TODAY, after=start, upto=None)
    first = await billing.account_ids_after(s, None, BILLING_RANGE)
    second = await billing.account_ids_after(s, first[-1], BILLING_RANGE)
    return await billing.billing_work(s, on=TODAY, after=first[-1], upto=second[-1])


async def _chunk_receivable(s: AsyncSession) -> object:
    first = await billing.account_ids_after(s, None, BILLING_RANGE)
    chunk = await billing.account_ids_after(s, first[-1], BILLING_RANGE)
    return await billing.receivable_of_accounts(s, chunk)


SWEEPS = [
    _case(
        "quote expiry: keys",
        lambda s: quotes.past_validity_after(s, TODAY, MIDWAY, 500),
        "FROM quotes",
        "ix_quotes_open_expires_on",
    ),
    _case(
        "quote expiry: a chunk locked",
        lambda s: quotes.lock_past_validity(s, [_id("q", 39_401), _id("q", 39_402)], TODAY),
        "FROM quotes",
        "pk_quotes",
    ),
    _case(
        "renewal lapses: keys",
        lambda s: renewals.offers_to_lapse_after(s, TODAY, None, 500),
        "FROM policy_renewals",
        "ix_policy_renewals_offered",
    ),
    _case(
        "renewal lapses: a chunk locked",
        lambda s: renewals.lock_offers_to_lapse(s, [_id("r", 19_999), _id("r", 20_000)], TODAY),
        "FROM policy_renewals",
        "pk_policy_renewals",
    ),
    _case(
        "renewal offers: terms ending in the lead time",
        lambda s: renewals.terms_ending_after(s, TODAY, TODAY + timedelta(days=60), MIDWAY, 500),
        "FROM policy_transactions",
        "ix_policy_transactions_term_end",
    ),
    _case(
        "billing run: a range of accounts",
        lambda s: billing.account_ids_after(s, _id("p", 77), 1000),
        "FROM billing_accounts",
        "pk_billing_accounts",
    ),
    _case(
        "billing run: a range's work",
        lambda s: _billing_range(s, last=False),
        "FROM installments",
        "uq_installments_term_seq",
    ),
    _case(
        "billing run: the last (open-ended) range's work",
        lambda s: _billing_range(s, last=True),
        "FROM installments",
        "uq_installments_term_seq",
    ),
    _case(
        "billing run: a chunk's ledger receivable",
        _chunk_receivable,
        "FROM ledger_journal",
        "ix_ledger_journal_policy_id",
        "ix_ledger_lines_journal_id",
    ),
    _case(
        "billing run: a chunk's invoices",
        lambda s: billing.due_for_invoice_of(
            s, [_id("p", 29_000), _id("p", 29_001)], through=TODAY
        ),
        "FROM installments",
        "uq_installments_term_seq",
    ),
    # The whole-book forms the CLI, the API's billing run and the demo's replay still use.
    _case(
        "quote expiry, whole book",
        lambda s: quotes.open_past_validity(s, TODAY, 1000),
        "FROM quotes",
        "ix_quotes_open_expires_on",
    ),
    _case(
        "renewal lapses, whole book",
        lambda s: renewals.offers_to_lapse(s, TODAY),
        "FROM policy_renewals",
        "ix_policy_renewals_offered",
    ),
    _case(
        "renewal offers, whole book",
        lambda s: renewals.terms_ending_between(s, TODAY, TODAY + timedelta(days=60)),
        "FROM policy_transactions",
        "ix_policy_transactions_term_end",
    ),
    # Invoices due within two weeks are a good part of a monthly-paying book: their accounts
    # are joined by hash, reading them all once, which is the right plan for that many.
    _case(
        "invoices due, whole book",
        lambda s: billing.due_for_invoice(s, through=TODAY, max_lead_days=14),
        "FROM installments",
        "ix_installments_to_invoice",
        allow_seq=("billing_accounts",),
    ),
    _case(
        "outbox relay: the oldest unpublished",
        lambda s: s.execute(relay._PUBLISH, {"limit": 500}),
        "outbox_events",
        "ix_outbox_events_unpublished",
        "ux_outbox_events_position",
    ),
    _case(
        "worker: the relay's backlog",
        lambda s: s.execute(worker._UNPUBLISHED),
        "FROM outbox_events",
        "ix_outbox_events_unpublished",
    ),
    _case(
        "documents: drawing one",
        lambda s: documents.render(s, uuid.UUID(int=1)),  # none: the lookup, not the drawing
        "FROM documents",
        "pk_documents",
    ),
    # The in-force count is an aggregate over the whole book: it may walk every policy, but
    # reaches each one's transactions through the index, never by reading them all.
    _case(
        "in-force count",
        lambda s: policies.in_force_on(s, TODAY),
        "FROM policies",
        "ix_policy_transactions_policy_seq",
        allow_seq=("policies",),
    ),
]

LISTS = [
    _case("GET /policies", _policies(SYSTEM), "FROM policies", "ix_policies_created_at_id"),
    _case(
        "GET /policies, page two", _policies_page_two, "FROM policies", "ix_policies_created_at_id"
    ),
    _case(
        "GET /policies as an agent", _policies(AGENT), "FROM policies", "ix_policies_created_at_id"
    ),
    _case(
        "GET /policies as a policyholder",
        _policies(OWNER),
        "FROM policies",
        "ix_policies_customer_id",
    ),
    _case(
        "GET /policies?customer_id=",
        _policies(SYSTEM, customer_id=_id("c", 42)),
        "FROM policies",
        "ix_policies_customer_id",
    ),
    _case(
        "GET /customers",
        lambda s: customers.list_customers(s, actor=SYSTEM, q=None, cursor=None, limit=50),
        "FROM customers",
        "ix_customers_created_at_id",
    ),
    _case(
        "GET /quotes",
        lambda s: quotes_read.list_quotes(
            s, actor=SYSTEM, status=None, customer_id=None, cursor=None, limit=50
        ),
        "FROM quotes",
        "ix_quotes_created_at_id",
    ),
    _case(
        "GET /claims",
        lambda s: claims.list_claims(
            s, actor=SYSTEM, where=claims.ClaimFilter(), cursor=None, limit=50
        ),
        "FROM claims",
        "ix_claims_reported_at_id",
    ),
    _case(
        "GET /claims/queue (open, oldest first)",
        lambda s: claims.list_claims(
            s,
            actor=SYSTEM,
            where=claims.ClaimFilter(open_only=True),
            cursor=None,
            limit=50,
            oldest_first=True,
        ),
        "FROM claims",
        "ix_claims_reported_at_id",
    ),
    _case(
        "GET /underwriting/referrals",
        lambda s: underwriting.referral_queue(s, actor=SYSTEM, limit=50),
        "FROM quotes",
        "ix_quotes_referred",
    ),
    _case(
        "GET /claims/diary",
        lambda s: diary.diary(
            s, actor=SYSTEM, assignee=None, due_before=None, open_only=True, cursor=None, limit=50
        ),
        "FROM claim_diary",
        "ix_claim_diary_open_due",
    ),
    _case(
        "GET /policies/{id}/documents",
        lambda s: documents.list_for_policy(s, _id("p", 123), limit=50),
        "FROM documents",
        "ix_documents_policy_id_created_at",
    ),
    _case(
        "GET /events",
        lambda s: events.read_stream(s, actor=SYSTEM, after=1_030_000, limit=100),
        "FROM outbox_events",
        "ux_outbox_events_position",
    ),
    _case(
        "GET /events as a policyholder",
        lambda s: events.read_stream(s, actor=OWNER, after=1_030_000, limit=100),
        "FROM outbox_events",
        "ix_outbox_events_customer_id_position",
    ),
    _case(
        "GET /users",
        lambda s: identity.list_users(s, role=None, cursor=None, limit=50),
        "FROM users",
        "ix_users_created_at_id",
    ),
    _case(
        "GET /account/sessions",
        lambda s: sessions.list_live(s, actor=OWNER, cursor=None, limit=50),
        "FROM auth_sessions",
        "ix_auth_sessions_user_created",
    ),
]


@pytest.mark.parametrize("case", [*SWEEPS, *LISTS])
async def test_the_query_uses_its_index(book: AsyncEngine, case: Case) -> None:
    plans = await plans_of(book, case.call, matching=case.matching)
    assert plans, f"{case.name}: no statement containing {case.matching!r} was sent"
    for plan in plans:
        assert plan.seq_scans() <= case.allow_seq, f"{case.name} reads a big table whole:\n{plan}"
    used = set().union(*(plan.indexes() for plan in plans))
    missing = case.indexes - used
    assert not missing, f"{case.name} does not use {sorted(missing)}:\n" + "\n".join(
        map(str, plans)
    )
