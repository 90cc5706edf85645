"""Premium reports by product and state: written, earned, unearned, in force.

Computed from the policy transactions with the same earning rule the ledger uses, so once the
earning job has run through the report date, the report and the ledger agree to the cent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.rules import earned_through, earnings_from_json
from pd_prime_demo.policies.service import state_as_of

ZERO = Decimal(0)


@dataclass
class PremiumLine:
    product_code: str
    state: str
    written: Decimal = ZERO  # in the period
    earned: Decimal = ZERO  # in the period
    unearned: Decimal = ZERO  # at the period's end
    written_to_date: Decimal = ZERO  # cumulative through the period's end
    earned_to_date: Decimal = ZERO
    in_force_premium: Decimal = ZERO  # term premium of policies in force at the end
    in_force_count: int = 0


@dataclass
class PremiumReport:
    start: date
    end: date
    lines: list[PremiumLine] = field(default_factory=list)

    def total(self, attribute: str) -> Decimal:
        return sum((getattr(line, attribute) for line in self.lines), ZERO)


async def premium_report(session: AsyncSession, *, start: date, end: date) -> PremiumReport:
    policies = {p.id: p for p in (await session.scalars(select(Policy))).all()}
    history: dict[object, list[PolicyTransaction]] = defaultdict(list)
    for txn in (
        await session.scalars(select(PolicyTransaction).order_by(PolicyTransaction.seq))
    ).all():
        history[txn.policy_id].append(txn)
    lines: dict[tuple[str, str], PremiumLine] = {}
    before = start - timedelta(days=1)
    for policy_id, txns in history.items():
        policy = policies[policy_id]  # type: ignore[index]
        line = lines.setdefault(
            (policy.product_code, policy.state), PremiumLine(policy.product_code, policy.state)
        )
        booked = [t for t in txns if t.accounting_on <= end]
        earnings = [e for t in booked for e in earnings_from_json(t.earnings)]
        line.written += sum((t.premium_change for t in booked if t.accounting_on >= start), ZERO)
        line.written_to_date += sum((t.premium_change for t in booked), ZERO)
        earned_end = earned_through(earnings, end)
        line.earned_to_date += earned_end
        earlier = [
            e for t in booked if t.accounting_on <= before for e in earnings_from_json(t.earnings)
        ]
        line.earned += earned_end - earned_through(earlier, before)
        line.unearned += sum((t.premium_change for t in booked), ZERO) - earned_end
        state = state_as_of(txns, end)
        if state.status == "in_force" and state.snapshot is not None:
            line.in_force_premium += Decimal(state.snapshot["term_premium"])
            line.in_force_count += 1
    ordered = [lines[k] for k in sorted(lines)]
    return PremiumReport(start, end, ordered)
