"""The double-entry ledger's queries: posting an entry, balances, and proving it balances.

Every business transaction posts one journal entry whose debits equal its credits, in the same
database transaction as the change it records. Entries are never edited: a correction is a new
entry. The database refuses UPDATE and DELETE on both tables.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal, cast

from sqlalchemy import (
    Insert,
    Numeric,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    true,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing.enums import Account
from pd_prime_demo.billing.models import BillingAccount, EarningPosting, JournalEntry, LedgerLine
from pd_prime_demo.core import clock

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Line:
    account: Account
    debit: Decimal = ZERO
    credit: Decimal = ZERO


class UnbalancedEntryError(ValueError):
    """A bug: a posting whose debits and credits differ never reaches the database."""


def debit(account: Account, amount: Decimal) -> Line:
    """A debit, or the equivalent credit when ``amount`` is negative."""
    return Line(account, debit=amount) if amount >= 0 else Line(account, credit=-amount)


def credit(account: Account, amount: Decimal) -> Line:
    return Line(account, credit=amount) if amount >= 0 else Line(account, debit=-amount)


async def post(
    session: AsyncSession,
    *,
    policy_id: uuid.UUID | None,
    source: str,
    source_id: str,
    memo: str,
    lines: list[Line],
    accounting_on: date | None = None,
) -> int | None:
    """Post a balanced entry (zero lines are dropped; nothing to post posts nothing); returns
    the entry's id (None when nothing was posted)."""
    lines = [line for line in lines if line.debit != 0 or line.credit != 0]
    if not lines:
        return None
    debits = sum((line.debit for line in lines), ZERO)
    credits = sum((line.credit for line in lines), ZERO)
    if debits != credits:
        raise UnbalancedEntryError(f"{source} {source_id}: debits {debits} != credits {credits}")
    posted = await session.execute(
        _POST,
        {
            "occurred_at": clock.now(),
            "accounting_on": accounting_on or clock.today(),
            "policy_id": policy_id,
            "source": source,
            "source_id": source_id,
            "memo": memo,
            "accounts": [line.account.value for line in lines],
            "debits": [line.debit for line in lines],
            "credits": [line.credit for line in lines],
        },
    )
    journal_id = posted.scalars().first()  # every line returns its entry's id
    assert journal_id is not None
    return int(journal_id)


_JOURNAL = cast(Table, JournalEntry.__table__)
_LINES = cast(Table, LedgerLine.__table__)


def _posting() -> Insert:
    """The entry and its lines in one statement, built once: the journal's id comes from the
    database, and the lines travel as three arrays, so the statement is the same whatever
    their number. Both tables are append-only, so nothing needs the ORM to track them: the
    statement is on the tables (an ORM insert would read the parameters as rows of lines)."""
    journal = (
        insert(_JOURNAL)
        .values(
            occurred_at=bindparam("occurred_at"),
            accounting_on=bindparam("accounting_on"),
            policy_id=bindparam("policy_id"),
            source=bindparam("source"),
            source_id=bindparam("source_id"),
            memo=bindparam("memo"),
        )
        .returning(_JOURNAL.c.id)
        .cte("journal")
    )
    posted = (
        func.unnest(
            bindparam("accounts", type_=ARRAY(String)),
            bindparam("debits", type_=ARRAY(Numeric)),
            bindparam("credits", type_=ARRAY(Numeric)),
        )
        .table_valued("account", "debit", "credit")
        .render_derived("posted")
    )
    lines = select(journal.c.id, posted.c.account, posted.c.debit, posted.c.credit).select_from(
        journal.join(posted, true())  # every line belongs to the one new entry
    )
    return (
        insert(_LINES)
        .from_select(["journal_id", "account", "debit", "credit"], lines)
        .add_cte(journal)
        .returning(_LINES.c.journal_id)
    )


_POST = _posting()


async def balances(
    session: AsyncSession,
    *,
    policy_id: uuid.UUID | None = None,
    as_of: date | None = None,
    known_at: datetime | None = None,
) -> dict[Account, Decimal]:
    """Debit-minus-credit balance of every account (one policy or all), through an accounting
    date, and as posted by a moment (``known_at``)."""
    query = (
        select(LedgerLine.account, func.sum(LedgerLine.debit - LedgerLine.credit))
        .join(JournalEntry, JournalEntry.id == LedgerLine.journal_id)
        .group_by(LedgerLine.account)
    )
    if policy_id is not None:
        query = query.where(JournalEntry.policy_id == policy_id)
    if as_of is not None:
        query = query.where(JournalEntry.accounting_on <= as_of)
    if known_at is not None:
        query = query.where(JournalEntry.occurred_at <= known_at)
    rows = (await session.execute(query)).all()
    found = {Account(account): Decimal(total) for account, total in rows}
    return {account: found.get(account, ZERO) for account in Account}


@dataclass(frozen=True, slots=True)
class EarnedInPeriod:
    product_code: str
    state: str
    period_start: date  # the first day of the calendar year, quarter or month
    earned: Decimal  # credited to earned premium in the period (net of reversals)


async def earned_by_period(
    session: AsyncSession,
    *,
    start: date,
    end: date,
    grain: Literal["year", "quarter", "month"],
    product_code: str | None = None,
    state: str | None = None,
) -> list[EarnedInPeriod]:
    """Earned premium on the ledger by product, state and calendar period, for the accounting
    dates ``start`` through ``end``: one GROUP BY in the database (the ledger's lines on the
    earned premium account, by their entry's policy's billing account), never the book in
    memory. Only what the earning job has posted counts: the ledger's own figure. An entry's
    group is its policy's, or for an entry of no policy (earned premium posted in aggregate,
    its reversals) the one ``earning_postings`` names."""
    period = func.date_trunc(grain, JournalEntry.accounting_on)
    product = func.coalesce(BillingAccount.product_code, EarningPosting.product_code)
    state_of = func.coalesce(BillingAccount.state, EarningPosting.state)
    query = (
        select(product, state_of, period, func.sum(LedgerLine.credit - LedgerLine.debit))
        .join(JournalEntry, JournalEntry.id == LedgerLine.journal_id)
        .outerjoin(BillingAccount, BillingAccount.policy_id == JournalEntry.policy_id)
        .outerjoin(EarningPosting, EarningPosting.journal_id == JournalEntry.id)
        .where(
            LedgerLine.account == Account.EARNED.value,
            JournalEntry.accounting_on >= start,
            JournalEntry.accounting_on <= end,
        )
        .group_by(product, state_of, period)
    )
    if product_code is not None:
        query = query.where(product == product_code)
    if state is not None:
        query = query.where(state_of == state)
    return [
        EarnedInPeriod(product, state_code, at.date(), Decimal(amount))
        for product, state_code, at, amount in await session.execute(query)
    ]


_RECEIVABLE = (
    select(func.coalesce(func.sum(LedgerLine.debit - LedgerLine.credit), 0))
    .join(JournalEntry, JournalEntry.id == LedgerLine.journal_id)
    .where(
        JournalEntry.policy_id == bindparam("policy_id"),
        LedgerLine.account == Account.RECEIVABLE.value,
    )
)


async def receivable(session: AsyncSession, policy_id: uuid.UUID) -> Decimal:
    """The policy's premium receivable: owed (positive) or a credit (negative)."""
    return Decimal(await session.scalar(_RECEIVABLE, {"policy_id": policy_id}) or 0)


EARNING = "ledger.earning"
EARNING_REVERSAL = "ledger.earning_reversal"


@dataclass(frozen=True, slots=True)
class EarningEntry:
    journal_id: int
    policy_id: uuid.UUID | None  # None: posted in aggregate for its group
    product_code: str
    state: str
    accounting_on: date
    earned: Decimal  # credited to earned premium


async def unreversed_earnings_after(
    session: AsyncSession,
    after: date,
    *,
    product_code: str | None = None,
    state: str | None = None,
) -> list[EarningEntry]:
    """Earning entries dated after ``after`` that no reversal has reversed yet, with their
    group (an entry of one policy, posted before earning was aggregated, by its account)."""
    reversed_ids = select(JournalEntry.source_id).where(JournalEntry.source == EARNING_REVERSAL)
    earned = func.sum(LedgerLine.credit - LedgerLine.debit)
    product = func.coalesce(EarningPosting.product_code, BillingAccount.product_code)
    state_of = func.coalesce(EarningPosting.state, BillingAccount.state)
    query = (
        select(
            JournalEntry.id,
            JournalEntry.policy_id,
            product,
            state_of,
            JournalEntry.accounting_on,
            earned,
        )
        .join(LedgerLine, LedgerLine.journal_id == JournalEntry.id)
        .outerjoin(EarningPosting, EarningPosting.journal_id == JournalEntry.id)
        .outerjoin(BillingAccount, BillingAccount.policy_id == JournalEntry.policy_id)
        .where(
            JournalEntry.source == EARNING,
            JournalEntry.accounting_on > after,
            LedgerLine.account == Account.EARNED.value,
            sql_cast(JournalEntry.id, String).not_in(reversed_ids),
        )
        .group_by(JournalEntry.id, product, state_of)
        .order_by(JournalEntry.id)
    )
    if product_code is not None:
        query = query.where(product == product_code)
    if state is not None:
        query = query.where(state_of == state)
    return [
        EarningEntry(journal_id, policy_id, product_code, state_code, on, Decimal(amount))
        for journal_id, policy_id, product_code, state_code, on, amount in await session.execute(
            query
        )
    ]


@dataclass(frozen=True, slots=True)
class TrialBalance:
    debits: Decimal
    credits: Decimal
    unbalanced_entries: list[int]

    @property
    def balanced(self) -> bool:
        return self.debits == self.credits and not self.unbalanced_entries


async def trial_balance(session: AsyncSession) -> TrialBalance:
    """Total debits and credits, and any journal entry whose own lines do not balance."""
    totals = (
        await session.execute(
            select(
                func.coalesce(func.sum(LedgerLine.debit), 0),
                func.coalesce(func.sum(LedgerLine.credit), 0),
            )
        )
    ).one()
    bad = (
        await session.scalars(
            select(LedgerLine.journal_id)
            .group_by(LedgerLine.journal_id)
            .having(func.sum(LedgerLine.debit) != func.sum(LedgerLine.credit))
        )
    ).all()
    return TrialBalance(Decimal(totals[0]), Decimal(totals[1]), list(bad))
