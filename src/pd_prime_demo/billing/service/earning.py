"""Recognising earned premium in the ledger (daily pro-rata), as a job runs it, and the
written, earned and unearned figures that premium reports are made of.

Earned premium is posted in aggregate: one journal per (product, state) and accounting day,
the difference between what that group's premium pieces say is earned through the day (the
sum over its pieces of ``pd_earned_through``, the earning rule of ``premium.earning`` in SQL)
and what the group's mark says the ledger already recognised. Running it twice for a day
posts nothing the second time; each group's journal and mark change together, in the caller's
transaction. A single policy's earned and unearned premium on any day stays exact: it is the
same sum over its own pieces (:func:`policy_earned`), never an allocation of the aggregate.
See docs/billing.md ("Earned premium").
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import ledger, repository
from pd_prime_demo.billing.enums import Account
from pd_prime_demo.billing.ledger import credit, debit
from pd_prime_demo.billing.models import EarningGroupMark
from pd_prime_demo.core import clock
from pd_prime_demo.core.result_types import DomainError, Err, FieldIssue, Ok, Result, invalid

ZERO = Decimal(0)
Group = tuple[str, str]  # (product_code, state)


async def earning_groups(session: AsyncSession) -> list[Group]:
    """Every (product_code, state) that has premium pieces: the earning run's chunks."""
    return await repository.earning_groups(session)


def source_id_of(group: Group, through: date) -> str:
    return f"earning:{group[0]}:{group[1]}:{through.isoformat()}"


async def post_earned(
    session: AsyncSession,
    *,
    through: date,
    restate: bool = False,
    product_code: str | None = None,
    state: str | None = None,
) -> Result[int, DomainError]:
    """Post earned premium through ``through`` for every group (or the one given: with
    ``product_code`` and ``state``, only that group); returns entries posted.

    Premium is never recognised ahead of time. A run for an earlier day than a group's ledger
    has already reached posts nothing for it, unless ``restate``: then every earning entry of
    the group dated after ``through`` is reversed by a correcting entry on its own date (so
    every day's books read as if it had never been posted), and the group is brought to
    exactly what it has earned through ``through`` (as after an earning run with a wrong date).
    """
    if through > clock.today():
        return Err(
            invalid(
                "ledger.earning_in_future",
                "premium is earned day by day: it cannot be recognised ahead of time",
                FieldIssue("#/through", f"must not be after {clock.today().isoformat()}"),
            )
        )
    if product_code is not None and state is not None:
        groups: list[Group] = [(product_code, state)]
    else:
        groups = [
            g
            for g in await repository.earning_groups(session)
            if product_code in (None, g[0]) and state in (None, g[1])
        ]
    # Locked before anything is read: a concurrent run of the same group waits here, then
    # finds the mark moved and posts only what is left.
    marks = await repository.lock_group_marks(session, groups, through)
    posted = await _reverse_after(session, through, marks, product_code, state) if restate else 0
    targets = await repository.earned_by_group(
        session, through, product_code=product_code, state=state
    )
    for group, mark in marks.items():
        if through < mark.earned_through:
            continue  # already recognised further (a restatement has wound it back first)
        delta = targets.get(group, ZERO) - mark.earned_posted
        journal_id = await ledger.post(
            session,
            policy_id=None,
            source=ledger.EARNING,
            source_id=source_id_of(group, through),
            memo=f"earned premium of {group[0]} in {group[1]} through {through.isoformat()}",
            accounting_on=through,
            lines=[debit(Account.UNEARNED, delta), credit(Account.EARNED, delta)],
        )
        if journal_id is not None:
            await repository.add_earning_posting(session, journal_id, group)
            posted += 1
        mark.earned_posted += delta
        mark.earned_through = through
    await session.flush()
    return Ok(posted)


async def _reverse_after(
    session: AsyncSession,
    through: date,
    marks: dict[Group, EarningGroupMark],
    product_code: str | None,
    state: str | None,
) -> int:
    """Reverse every earning entry dated after ``through`` and wind the marks back to it. An
    entry posted per policy (before earning was aggregated) is reversed against its policy."""
    entries = await ledger.unreversed_earnings_after(
        session, through, product_code=product_code, state=state
    )
    for entry in entries:
        group = (entry.product_code, entry.state)
        mark = marks.get(group)
        if mark is None:  # an entry of a group that has no pieces: cannot happen, pieces stay
            marks.update(await repository.lock_group_marks(session, [group], through))
            mark = marks[group]
        journal_id = await ledger.post(
            session,
            policy_id=entry.policy_id,
            source=ledger.EARNING_REVERSAL,
            source_id=str(entry.journal_id),
            memo=f"reversal of earned premium posted for {entry.accounting_on.isoformat()}",
            accounting_on=entry.accounting_on,
            lines=[debit(Account.EARNED, entry.earned), credit(Account.UNEARNED, entry.earned)],
        )
        if journal_id is not None and entry.policy_id is None:
            await repository.add_earning_posting(session, journal_id, group)
        mark.earned_posted -= entry.earned
        mark.earned_through = min(mark.earned_through, through)
    return len(entries)


@dataclass(frozen=True, slots=True)
class PolicyEarned:
    """One policy's premium on a day, from its own pieces: exact whatever the ledger posts."""

    policy_id: uuid.UUID
    on: date
    written: Decimal  # booked by the day
    earned: Decimal  # through the day
    unearned: Decimal  # at the day's end


async def policy_earned(
    session: AsyncSession, policy_id: uuid.UUID, on: date, *, known_at: datetime | None = None
) -> PolicyEarned:
    figures = await repository.policy_premium(session, policy_id, on, known_at=known_at)
    return PolicyEarned(
        policy_id, on, figures.written, figures.earned, figures.written - figures.earned
    )


@dataclass
class PremiumFigures:
    """Written, earned and unearned premium of one product in one state, for a period."""

    product_code: str
    state: str
    written: Decimal = ZERO  # in the period
    earned: Decimal = ZERO  # in the period
    unearned: Decimal = ZERO  # at the period's end
    written_to_date: Decimal = ZERO  # cumulative through the period's end
    earned_to_date: Decimal = ZERO


async def premium_figures(
    session: AsyncSession, *, start: date, end: date, known_at: datetime | None = None
) -> list[PremiumFigures]:
    """By product and state, from the premium pieces with the ledger's earning rule, summed in
    the database (one GROUP BY; nothing per policy comes back). Earned in the period is what
    the pieces booked by the end earned through it, less what the pieces booked by the day
    before the start had earned by then (a piece booked in the period counts wholly in it)."""
    totals = await repository.premium_totals(session, start=start, end=end, known_at=known_at)
    return [
        PremiumFigures(
            t.product_code,
            t.state,
            written=t.written,
            earned=t.earned_to_date - t.earned_before,
            unearned=t.written_to_date - t.earned_to_date,
            written_to_date=t.written_to_date,
            earned_to_date=t.earned_to_date,
        )
        # Sorted here, not by the database's collation: the order Python's strings sort in.
        for t in sorted(totals, key=lambda t: (t.product_code, t.state))
    ]


@dataclass(frozen=True, slots=True)
class LedgerPremium:
    """The ledger's unearned and earned premium on a day and on all dates, and the premium
    booked with an accounting date after that day: what reconciles a premium report for the
    day with the ledger's balances. Amounts are positive (a liability, a revenue)."""

    unearned_on: Decimal
    earned_on: Decimal
    unearned_all_dates: Decimal
    earned_all_dates: Decimal
    booked_after: Decimal


async def ledger_premium(
    session: AsyncSession, *, on: date, known_at: datetime | None = None
) -> LedgerPremium:
    then = await ledger.balances(session, as_of=on, known_at=known_at)
    now = await ledger.balances(session, known_at=known_at)
    return LedgerPremium(
        unearned_on=-then[Account.UNEARNED],
        earned_on=-then[Account.EARNED],
        unearned_all_dates=-now[Account.UNEARNED],
        earned_all_dates=-now[Account.EARNED],
        booked_after=await repository.written_booked_after(session, on, known_at=known_at),
    )
