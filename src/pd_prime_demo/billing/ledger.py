"""Posting to the double-entry ledger, and proving it balances.

Every business transaction posts one journal entry whose debits equal its credits, in the same
database transaction as the change it records. Entries are never edited: a correction is a new
entry. The database refuses UPDATE and DELETE on both tables.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing.models import Account, JournalEntry, LedgerLine
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
) -> JournalEntry | None:
    """Post a balanced entry (zero lines are dropped; nothing to post returns None)."""
    lines = [line for line in lines if line.debit != 0 or line.credit != 0]
    if not lines:
        return None
    debits = sum((line.debit for line in lines), ZERO)
    credits = sum((line.credit for line in lines), ZERO)
    if debits != credits:
        raise UnbalancedEntryError(f"{source} {source_id}: debits {debits} != credits {credits}")
    entry = JournalEntry(
        occurred_at=clock.now(),
        accounting_on=accounting_on or clock.today(),
        policy_id=policy_id,
        source=source,
        source_id=source_id,
        memo=memo,
    )
    session.add(entry)
    await session.flush()
    session.add_all(
        LedgerLine(
            journal_id=entry.id, account=line.account.value, debit=line.debit, credit=line.credit
        )
        for line in lines
    )
    await session.flush()
    return entry


async def balances(
    session: AsyncSession, *, policy_id: uuid.UUID | None = None, as_of: date | None = None
) -> dict[Account, Decimal]:
    """Debit-minus-credit balance of every account (one policy or all; through a date)."""
    query = (
        select(LedgerLine.account, func.sum(LedgerLine.debit - LedgerLine.credit))
        .join(JournalEntry, JournalEntry.id == LedgerLine.journal_id)
        .group_by(LedgerLine.account)
    )
    if policy_id is not None:
        query = query.where(JournalEntry.policy_id == policy_id)
    if as_of is not None:
        query = query.where(JournalEntry.accounting_on <= as_of)
    rows = (await session.execute(query)).all()
    found = {Account(account): Decimal(total) for account, total in rows}
    return {account: found.get(account, ZERO) for account in Account}


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
