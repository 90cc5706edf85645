"""Recognising earned premium in the ledger (daily pro-rata), as a job runs it, and the
written, earned and unearned figures that premium reports are made of.

Each run moves, per policy, the difference between what the premium pieces say is earned
through the date and what the ledger already recognised, from unearned to earned premium.
Running it twice for the same date posts nothing the second time.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import ledger, repository
from pd_prime_demo.billing.enums import Account
from pd_prime_demo.billing.ledger import credit, debit
from pd_prime_demo.billing.models import EarningMark, PremiumEarning
from pd_prime_demo.core import clock
from pd_prime_demo.core.result_types import DomainError, Err, FieldIssue, Ok, Result, invalid
from pd_prime_demo.premium.earning import Earning, earned_through
from pd_prime_demo.premium.proration import Proration

ZERO = Decimal(0)


def earning_of(piece: PremiumEarning) -> Earning:
    return Earning(
        piece.amount,
        piece.start_on,
        piece.end_on,
        Proration(piece.basis),
        (piece.term_start, piece.term_end),
    )


async def post_earned(
    session: AsyncSession, *, through: date, restate: bool = False
) -> Result[int, DomainError]:
    """Post earned premium through ``through`` for every policy; returns entries posted.

    Premium is never recognised ahead of time. A run for an earlier day than the ledger has
    already reached posts nothing, unless ``restate``: then every earning entry dated after
    ``through`` is reversed by a correcting entry on its own date (so every day's books read
    as if it had never been posted), and each policy is brought to exactly what it has earned
    through ``through`` (as after an earning run with a wrong date).
    """
    if through > clock.today():
        return Err(
            invalid(
                "ledger.earning_in_future",
                "premium is earned day by day: it cannot be recognised ahead of time",
                FieldIssue("#/through", f"must not be after {clock.today().isoformat()}"),
            )
        )
    posted = await _reverse_after(session, through) if restate else 0
    by_policy: dict[uuid.UUID, list[Earning]] = {}
    for piece in await repository.earnings_booked_through(session, through):
        by_policy.setdefault(piece.policy_id, []).append(earning_of(piece))
    for policy_id, earnings in by_policy.items():
        target = earned_through(earnings, through)
        mark = await repository.earning_mark(session, policy_id)
        if mark is None:
            mark = EarningMark(policy_id=policy_id, earned_through=through, earned_posted=ZERO)
            session.add(mark)
        if through < mark.earned_through:
            continue  # already recognised further (a restatement has wound it back first)
        delta = target - mark.earned_posted
        if delta != 0:
            await ledger.post(
                session,
                policy_id=policy_id,
                source="ledger.earning",
                source_id=f"{policy_id}:{through.isoformat()}",
                memo=f"earned premium through {through.isoformat()}",
                accounting_on=through,
                lines=[debit(Account.UNEARNED, delta), credit(Account.EARNED, delta)],
            )
            posted += 1
        mark.earned_posted = target
        mark.earned_through = max(mark.earned_through, through)
    await session.flush()
    return Ok(posted)


async def _reverse_after(session: AsyncSession, through: date) -> int:
    """Reverse every earning entry dated after ``through`` and wind the marks back to it."""
    entries = await ledger.unreversed_earnings_after(session, through)
    for entry in entries:
        await ledger.post(
            session,
            policy_id=entry.policy_id,
            source=ledger.EARNING_REVERSAL,
            source_id=str(entry.journal_id),
            memo=f"reversal of earned premium posted for {entry.accounting_on.isoformat()}",
            accounting_on=entry.accounting_on,
            lines=[debit(Account.EARNED, entry.earned), credit(Account.UNEARNED, entry.earned)],
        )
        mark = await repository.earning_mark(session, entry.policy_id)
        assert mark is not None
        mark.earned_posted -= entry.earned
        mark.earned_through = min(mark.earned_through, through)
    return len(entries)


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
    """By product and state, from the premium pieces with the ledger's earning rule."""
    pieces = await repository.earnings_known_at(session, booked_by=end, known_at=known_at)
    grouped: dict[tuple[str, str], dict[uuid.UUID, list[PremiumEarning]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for piece in pieces:
        grouped[(piece.product_code, piece.state)][piece.policy_id].append(piece)
    before = start - timedelta(days=1)
    lines = []
    for (product_code, state), policies in sorted(grouped.items()):
        line = PremiumFigures(product_code, state)
        for booked in policies.values():
            line.written += _sum(p.amount for p in booked if p.accounting_on >= start)
            line.written_to_date += _sum(p.amount for p in booked)
            earned_end = earned_through([earning_of(p) for p in booked], end)
            line.earned_to_date += earned_end
            earlier = [earning_of(p) for p in booked if p.accounting_on <= before]
            line.earned += earned_end - earned_through(earlier, before)
            line.unearned += _sum(p.amount for p in booked) - earned_end
        lines.append(line)
    return lines


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, ZERO)


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
