"""Premium reports by product and state: written, earned, unearned, in force.

Written, earned and unearned premium come from billing's premium pieces, with the same earning
rule the ledger uses, summed in PostgreSQL by product and state (nothing per policy reaches the
server), so once the earning job has run through the report date, the report and the ledger
agree to the cent; the policies in force at the end come from the policies' history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
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


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """How the report's unearned premium at the end meets the ledger's balances.

    ``ledger_unearned`` (the ledger as of the end) is the report's unearned plus earning not
    yet posted through the end (none once the daily earning job has run that far). The
    ledger's balance on all dates adds what is booked with a later accounting date (a
    future-dated endorsement, say) and takes away what was earned after the end.
    """

    report_unearned: Decimal
    ledger_unearned: Decimal
    earning_not_yet_posted: Decimal
    booked_after_end: Decimal
    earned_after_end: Decimal
    ledger_unearned_all_dates: Decimal


@dataclass
class PremiumReport:
    start: date
    end: date
    known_at: datetime | None = None
    lines: list[PremiumLine] = field(default_factory=list)
    reconciliation: Reconciliation | None = None

    def total(self, attribute: str) -> Decimal:
        return sum((getattr(line, attribute) for line in self.lines), ZERO)


async def premium_report(
    session: AsyncSession, *, start: date, end: date, known_at: datetime | None = None
) -> PremiumReport:
    """The report for [start, end]; with ``known_at``, exactly as it read at that moment
    (nothing recorded later counts, however far back it is effective)."""
    lines: dict[tuple[str, str], PremiumLine] = {}
    for figures in await billing.premium_figures(session, start=start, end=end, known_at=known_at):
        lines[(figures.product_code, figures.state)] = PremiumLine(
            figures.product_code,
            figures.state,
            written=figures.written,
            earned=figures.earned,
            unearned=figures.unearned,
            written_to_date=figures.written_to_date,
            earned_to_date=figures.earned_to_date,
        )
    for in_force in await policies.in_force_on(session, end, known_at=known_at):
        key = (in_force.product_code, in_force.state)
        line = lines.setdefault(key, PremiumLine(*key))
        line.in_force_premium += in_force.premium
        line.in_force_count += in_force.count
    report = PremiumReport(start, end, known_at, [lines[k] for k in sorted(lines)])
    books = await billing.ledger_premium(session, on=end, known_at=known_at)
    unearned = report.total("unearned")
    report.reconciliation = Reconciliation(
        report_unearned=unearned,
        ledger_unearned=books.unearned_on,
        earning_not_yet_posted=books.unearned_on - unearned,
        booked_after_end=books.booked_after,
        earned_after_end=books.earned_all_dates - books.earned_on,
        ledger_unearned_all_dates=books.unearned_all_dates,
    )
    return report
