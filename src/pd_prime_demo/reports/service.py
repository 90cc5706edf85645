"""Premium reports by product and state: written, earned, unearned, in force.

Written, earned and unearned premium come from billing's premium pieces, with the same earning
rule the ledger uses, so once the earning job has run through the report date, the report and
the ledger agree to the cent; the policies in force at the end come from the policies' history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.policies import service as policies

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
    lines: dict[tuple[str, str], PremiumLine] = {}
    for figures in await billing.premium_figures(session, start=start, end=end):
        lines[(figures.product_code, figures.state)] = PremiumLine(
            figures.product_code,
            figures.state,
            written=figures.written,
            earned=figures.earned,
            unearned=figures.unearned,
            written_to_date=figures.written_to_date,
            earned_to_date=figures.earned_to_date,
        )
    for in_force in await policies.in_force_on(session, end):
        key = (in_force.product_code, in_force.state)
        line = lines.setdefault(key, PremiumLine(*key))
        line.in_force_premium += in_force.premium
        line.in_force_count += in_force.count
    return PremiumReport(start, end, [lines[k] for k in sorted(lines)])
