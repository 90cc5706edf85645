"""Loss reports: paid, incurred, case reserves, claim counts and loss ratios by product, state
and accident or calendar period, at a valuation date.

* Incurred is **net of recoveries**: paid + case reserves - salvage and subrogation received,
  as the ledger books it (recoveries are a contra-expense), so a loss ratio reads what the
  losses finally cost. Paid is shown gross, with the recoveries beside it.
* The accident basis groups by the claim's loss date and shows each period's accidents as they
  stand on the valuation date (paid to date, case reserves outstanding, claims reported, open
  and closed then); its loss ratio is the accident period's incurred over the premium earned
  in that period. The calendar basis groups by the transaction's accounting date: what was
  paid, recovered and reserved in the period (incurred = paid - recoveries + the movement of
  case reserves), case reserves and open claims at the period's end, claims reported and
  closings in the period.
* Earned premium comes from the ledger (``billing.service.earned_by_period``): per product and
  state, what the earning job has credited to ``earned_premium`` with an accounting date in the
  period (one GROUP BY); the report also shows the book-wide check against the ledger's
  balance.

Every claims figure is a GROUP BY in PostgreSQL (``claims.repository.reserving``).

Accounting dates are the ledger's days, in UTC, as billing's are: a claim transaction's
``accounting_on`` is the UTC date it was recorded (``clock.today()``), and its journal entry
carries the same date, so the calendar basis and the triangles' development ages agree with the
ledger's balances by date (a payment at 20:00 in Chicago on 31 December counts in the next
year, in the claims report as in the ledger). The valuation date is such a day too. The accident
basis groups by the claim's loss date, the day the loss happened where it happened.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.claims.enums import CostType
from pd_prime_demo.claims.repository import reserving as repo
from pd_prime_demo.claims.repository.reserving import Grain, Scope
from pd_prime_demo.core.result_types import DomainError, Err, FieldIssue, Ok, Result, invalid

ZERO = Decimal(0)
RATIO_PLACES = Decimal("0.0001")
MAX_PERIODS = 120
Basis = Literal["accident", "calendar"]
Key = tuple[str, str, date]
LineOf = Callable[[str, str, date], "LossLine"]


def loss_ratio(incurred: Decimal, earned: Decimal) -> Decimal | None:
    return (incurred / earned).quantize(RATIO_PLACES) if earned > 0 else None


@dataclass
class LossTotals:
    """The figures of a report: of one line, or summed over all of them."""

    paid: Decimal = ZERO
    recoveries: Decimal = ZERO
    case_reserves: Decimal = ZERO
    incurred: Decimal = ZERO
    earned_premium: Decimal = ZERO
    reported: int = 0
    open: int = 0
    closed: int = 0

    @property
    def loss_ratio(self) -> Decimal | None:
        return loss_ratio(self.incurred, self.earned_premium)


@dataclass(kw_only=True)
class LossLine(LossTotals):
    """The figures of one product, state and period."""

    product_code: str
    state: str
    period: str
    period_start: date
    period_end: date


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    report_earned_premium: Decimal
    ledger_earned_premium: Decimal

    @property
    def earning_not_yet_posted(self) -> Decimal:
        return self.report_earned_premium - self.ledger_earned_premium


@dataclass
class LossReport:
    valuation_on: date
    basis: Basis
    grain: Grain
    cost_type: CostType | None
    lines: list[LossLine] = field(default_factory=list)
    totals: LossTotals = field(default_factory=LossTotals)
    ledger: LedgerCheck | None = None


async def earned_premium(
    session: AsyncSession,
    starts: list[date],
    grain: Grain,
    *,
    valuation: date,
    product_code: str | None = None,
    state: str | None = None,
) -> dict[Key, Decimal]:
    """Premium earned in each period (through ``valuation`` for the last), by product and
    state, from the ledger's earned premium account (one GROUP BY in billing)."""
    if not starts:
        return {}
    earned = await billing.earned_by_period(
        session,
        start=min(starts),
        end=min(repo.period_end(max(starts), grain), valuation),
        grain=grain,
        product_code=product_code,
        state=state,
    )
    return {(e.product_code, e.state, e.period_start): e.earned for e in earned}


def period_range(
    first_on: date | None, valuation: date, grain: Grain, *, limit: int = MAX_PERIODS
) -> Result[list[date], DomainError]:
    first = repo.period_start(first_on or date(valuation.year, 1, 1), grain)
    last = repo.period_start(valuation, grain)
    count = repo.periods_between(first, last, grain) + 1
    if first > valuation:
        return Err(
            invalid(
                "report.bad_period",
                "the first period starts after the valuation date",
                FieldIssue("#/start", "must not be after valuation_on"),
            )
        )
    if count > limit:
        return Err(
            invalid(
                "report.too_many_periods",
                f"{count} periods: at most {limit}",
                FieldIssue("#/start", f"at most {limit} {grain}s before valuation_on"),
            )
        )
    return Ok([repo.add_periods(first, n, grain) for n in range(count)])


async def loss_report(
    session: AsyncSession,
    *,
    valuation: date,
    basis: Basis = "accident",
    grain: Grain = "year",
    start: date | None = None,
    product_code: str | None = None,
    state: str | None = None,
    cost_type: CostType | None = None,
) -> Result[LossReport, DomainError]:
    """The report for the periods from ``start``'s (default: the valuation's year) through
    the valuation date's; see the module doc for what each figure means."""
    match period_range(start, valuation, grain):
        case Err() as err:
            return err
        case Ok(starts):
            pass
    first = starts[0]
    scope = Scope(product_code, state, cost_type, first if basis == "accident" else None)
    money = await repo.money_by_period(
        session, basis=basis, grain=grain, valuation=valuation, scope=scope
    )
    counts = await repo.counts_by_period(
        session, basis=basis, grain=grain, valuation=valuation, scope=scope
    )
    earned = await earned_premium(
        session, starts, grain, valuation=valuation, product_code=product_code, state=state
    )
    lines: dict[Key, LossLine] = {}

    def line(product: str, state_code: str, at: date) -> LossLine:
        key = (product, state_code, at)
        if key not in lines:
            end = repo.period_end(at, grain)
            lines[key] = LossLine(
                product_code=product,
                state=state_code,
                period=repo.period_label(at, grain),
                period_start=at,
                period_end=min(end, valuation),
            )
        return lines[key]

    if basis == "accident":
        _accident(money, counts, line)
    for (product, state_code, at), amount in earned.items():
        line(product, state_code, at).earned_premium = amount
    if basis == "calendar":
        _calendar(money, counts, line, first, starts[-1], lines)
    report = LossReport(valuation, basis, grain, cost_type, [lines[k] for k in sorted(lines)])
    totals = report.totals
    for each in report.lines:
        totals.paid += each.paid
        totals.recoveries += each.recoveries
        totals.incurred += each.incurred
        totals.earned_premium += each.earned_premium
        totals.reported += each.reported
        totals.closed += each.closed
        if basis == "accident" or each.period_start == starts[-1]:
            totals.case_reserves += each.case_reserves
            totals.open += each.open
    if product_code is None and state is None:
        before = await billing.balances(session, as_of=first - timedelta(days=1))
        through = await billing.balances(session, as_of=valuation)
        ledger = before[billing.Account.EARNED] - through[billing.Account.EARNED]
        report.ledger = LedgerCheck(totals.earned_premium, ledger)
    return Ok(report)


def _accident(money: list[repo.MoneyRow], counts: list[repo.CountRow], line: LineOf) -> None:
    for row in money:
        each = line(row.product_code, row.state, row.period)
        each.paid, each.recoveries, each.case_reserves = row.paid, row.recovered, row.reserve_change
        each.incurred = row.paid - row.recovered + row.reserve_change
    for counted in counts:
        each = line(counted.product_code, counted.state, counted.period)
        each.reported, each.closed = counted.reported, counted.closed
        each.open = counted.reported - counted.closed


class _Balances:
    """A running balance per product and state, as it stood at the end of any period: the
    movements of every period through the valuation (earlier ones carried in)."""

    def __init__(self) -> None:
        self.moves: dict[tuple[str, str], list[tuple[date, Decimal]]] = defaultdict(list)

    def add(self, product: str, state: str, at: date, amount: Decimal) -> None:
        self.moves[(product, state)].append((at, amount))

    def at_end_of(self, product: str, state: str, at: date) -> Decimal:
        return sum((a for on, a in self.moves.get((product, state), []) if on <= at), ZERO)


def _calendar(
    money: list[repo.MoneyRow],
    counts: list[repo.CountRow],
    line: LineOf,
    first: date,
    last: date,
    lines: dict[Key, LossLine],
) -> None:
    """Flows in each period; balances (case reserves, open claims) at each period's end."""
    reserves, open_claims = _Balances(), _Balances()
    for row in money:
        reserves.add(row.product_code, row.state, row.period, row.reserve_change)
        if row.period >= first:
            each = line(row.product_code, row.state, row.period)
            each.paid, each.recoveries = row.paid, row.recovered
            each.incurred = row.paid - row.recovered + row.reserve_change
    for counted in counts:
        moved = Decimal(counted.reported - counted.closed + counted.reopened)
        open_claims.add(counted.product_code, counted.state, counted.period, moved)
        if counted.period >= first:
            each = line(counted.product_code, counted.state, counted.period)
            each.reported, each.closed = counted.reported, counted.closed
    for product, state in {*reserves.moves, *open_claims.moves}:
        line(product, state, last)  # what is still outstanding shows at the end
    for (product, state, at), each in lines.items():
        each.case_reserves = reserves.at_end_of(product, state, at)
        each.open = int(open_claims.at_end_of(product, state, at))
