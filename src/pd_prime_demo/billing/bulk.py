"""Bulk writes of converted accounts (``service.imports``): a chunk of accounts' rows in a few
statements instead of one ORM flush per row.

These are billing's queries as ``repository`` and ``ledger`` are, for the conversion path only:
rows are inserted whole (nothing the ORM would need to track), and the journal entries of a
whole chunk go in with their lines in one statement.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Date,
    DateTime,
    Insert,
    Numeric,
    String,
    Table,
    bindparam,
    column,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing.ledger import Line
from pd_prime_demo.billing.models import (
    BillingAccount,
    BillingTerm,
    InstallmentRow,
    JournalEntry,
    LedgerLine,
    Payment,
    PremiumEarning,
)

CONVERSION_METHOD = "conversion"  # the method of a payment the legacy system received


@dataclass(frozen=True, slots=True)
class Posting:
    """A balanced journal entry to post (``ledger.post``'s arguments)."""

    policy_id: uuid.UUID
    source: str
    source_id: str  # unique within a chunk: a transaction, installment or payment id
    memo: str
    accounting_on: date
    lines: tuple[Line, ...]


@dataclass(slots=True)
class Rows:
    """Every row of a chunk of converted accounts, by table."""

    accounts: list[dict[str, Any]]
    terms: list[dict[str, Any]]
    installments: list[dict[str, Any]]
    pieces: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    postings: list[Posting]


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


_JOURNAL = _table(JournalEntry)
_LINES = _table(LedgerLine)


def _bulk_posting() -> Insert:
    """The entries and their lines in one statement: entries and lines travel as arrays, each
    line names its entry by ``source_id``, and the journal's ids come from the database."""
    entries = (
        func.unnest(
            bindparam("occurred_at", type_=ARRAY(DateTime(timezone=True))),
            bindparam("accounting_on", type_=ARRAY(Date)),
            bindparam("policy_id", type_=ARRAY(UUID(as_uuid=True))),
            bindparam("source", type_=ARRAY(String)),
            bindparam("source_id", type_=ARRAY(String)),
            bindparam("memo", type_=ARRAY(String)),
        )
        .table_valued(
            column("occurred_at", DateTime(timezone=True)),
            column("accounting_on", Date),
            column("policy_id", UUID(as_uuid=True)),
            column("source", String),
            column("source_id", String),
            column("memo", String),
        )
        .render_derived("entries")
    )
    names = ["occurred_at", "accounting_on", "policy_id", "source", "source_id", "memo"]
    journal = (
        insert(_JOURNAL)
        .from_select(names, select(*(entries.c[name] for name in names)))
        .returning(_JOURNAL.c.id, _JOURNAL.c.source_id)
        .cte("journal")
    )
    lines = (
        func.unnest(
            bindparam("line_source_id", type_=ARRAY(String)),
            bindparam("account", type_=ARRAY(String)),
            bindparam("debit", type_=ARRAY(Numeric)),
            bindparam("credit", type_=ARRAY(Numeric)),
        )
        .table_valued(
            column("source_id", String),
            column("account", String),
            column("debit", Numeric),
            column("credit", Numeric),
        )
        .render_derived("lines")
    )
    posted = select(journal.c.id, lines.c.account, lines.c.debit, lines.c.credit).select_from(
        journal.join(lines, lines.c.source_id == journal.c.source_id)
    )
    return (
        insert(_LINES)
        .from_select(["journal_id", "account", "debit", "credit"], posted)
        .add_cte(journal)
    )


_POST_MANY = _bulk_posting()


async def post_many(session: AsyncSession, postings: Sequence[Posting], *, now: datetime) -> None:
    """Post balanced entries (each checked by the caller, and by the database at commit)."""
    if not postings:
        return
    lines = [(p.source_id, line) for p in postings for line in p.lines]
    await session.execute(
        _POST_MANY,
        {
            "occurred_at": [now] * len(postings),
            "accounting_on": [p.accounting_on for p in postings],
            "policy_id": [p.policy_id for p in postings],
            "source": [p.source for p in postings],
            "source_id": [p.source_id for p in postings],
            "memo": [p.memo for p in postings],
            "line_source_id": [source_id for source_id, _ in lines],
            "account": [line.account.value for _, line in lines],
            "debit": [line.debit for _, line in lines],
            "credit": [line.credit for _, line in lines],
        },
    )


async def insert_rows(session: AsyncSession, rows: Rows, *, now: datetime) -> None:
    """Every row of ``rows``, parents first (accounts before what refers to them)."""
    for model, items in (
        (BillingAccount, rows.accounts),
        (BillingTerm, rows.terms),
        (InstallmentRow, rows.installments),
        (PremiumEarning, rows.pieces),
        (Payment, rows.payments),
    ):
        if items:
            await session.execute(insert(_table(model)), items)
    await post_many(session, rows.postings, now=now)


async def conversion_payments(
    session: AsyncSession, policy_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Decimal]]:
    """The payments a conversion posted, by policy and idempotency key."""
    found: dict[uuid.UUID, dict[str, Decimal]] = {}
    if not policy_ids:
        return found
    rows = await session.execute(
        select(Payment.policy_id, Payment.idempotency_key, Payment.amount).where(
            Payment.policy_id.in_(policy_ids), Payment.method == CONVERSION_METHOD
        )
    )
    for policy_id, key, amount in rows:
        found.setdefault(policy_id, {})[key] = Decimal(amount)
    return found
