"""Recognising earned premium in the ledger (daily pro-rata), as a job runs it.

Each run moves, per policy, the difference between what the transactions say is earned through
the date and what the ledger already recognised, from unearned to earned premium. Running it
twice for the same date posts nothing the second time.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import ledger
from pd_prime_demo.billing.ledger import credit, debit
from pd_prime_demo.billing.models import Account, EarningMark
from pd_prime_demo.policies.models import PolicyTransaction
from pd_prime_demo.policies.rules import Earning, earned_through, earnings_from_json

ZERO = Decimal(0)


async def post_earned(session: AsyncSession, *, through: date) -> int:
    """Post earned premium through ``through`` for every policy; returns entries posted."""
    rows = (
        await session.scalars(
            select(PolicyTransaction)
            .where(PolicyTransaction.accounting_on <= through)
            .order_by(PolicyTransaction.policy_id, PolicyTransaction.seq)
        )
    ).all()
    by_policy: dict[object, list[Earning]] = {}
    for txn in rows:
        by_policy.setdefault(txn.policy_id, []).extend(earnings_from_json(txn.earnings))
    posted = 0
    for policy_id, earnings in by_policy.items():
        target = earned_through(earnings, through)
        mark = await session.get(EarningMark, policy_id, with_for_update=True)
        if mark is None:
            mark = EarningMark(policy_id=policy_id, earned_through=through, earned_posted=ZERO)
            session.add(mark)
        delta = target - mark.earned_posted
        if delta != 0:
            await ledger.post(
                session,
                policy_id=policy_id,  # type: ignore[arg-type]
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
    return posted
