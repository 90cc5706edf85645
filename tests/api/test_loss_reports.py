"""Loss reports through the API: paid, incurred (net of recoveries), case reserves, claim counts
and loss ratios on billing's earned premium, by product, state and accident or calendar year,
at a valuation date, from claim transactions written at known accounting dates.

The claims' money is written here as rows (claims, an exposure, a reserve line, the posted
transactions and status changes), so the figures are known to the cent; the reports are
aggregates over exactly those tables whatever writes them.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from httpx import AsyncClient

from pd_prime_demo.billing import service as billing
from pd_prime_demo.claims.models import Claim, ClaimStatusChange
from pd_prime_demo.claims.money_models import ClaimTransaction, Exposure, ReserveLine
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from tests.claims_support import at, bound_policy, fresh, staff

VALUATION = date(2026, 12, 31)
_serials = itertools.count(900_000 + uuid.uuid4().int % 90_000 * 1000)


@dataclass(frozen=True)
class Move:
    on: date
    kind: str  # reserve, payment, salvage, subrogation
    amount: str
    cost_type: str = "indemnity"


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(15), tzinfo=UTC)


async def add_claim(
    runtime: Runtime,
    policy: dict[str, Any],
    *,
    loss_on: date,
    reported_on: date,
    moves: list[Move],
    product_code: str | None = None,
    state: str | None = None,
    closed_on: date | None = None,
) -> uuid.UUID:
    """A claim on ``policy`` with one exposure and reserve line per cost type, its posted
    transactions (a payment takes down the reserve it uses) and its status history."""
    serial = next(_serials)
    async with runtime.db.unit_of_work() as session:
        claim = Claim(
            serial=serial,
            number=f"T-{serial}",
            policy_id=uuid.UUID(policy["id"]),
            customer_id=uuid.UUID(policy["customer_id"]),
            product_code=product_code or policy["product_code"],
            state=state or policy["state"],
            loss_at=_moment(loss_on),
            loss_on=loss_on,
            loss_time_zone="America/Chicago",
            cause_code="collision",
            location={},
            description="test loss",
            reported_at=_moment(reported_on),
            reported_by="tests",
            reported_via="staff",
            coverage_status="verified",
            coverage_findings=[],
            status="closed" if closed_on else "reported",
            closed_outcome="paid" if closed_on else None,
            updated_at=_moment(reported_on),
        )
        session.add(claim)
        await session.flush()
        exposure = Exposure(
            claim_id=claim.id,
            seq=1,
            coverage_code="collision",
            status="open",
            created_by="tests",
            created_at=_moment(reported_on),
        )
        session.add(exposure)
        await session.flush()
        lines: dict[str, ReserveLine] = {}
        outstanding: dict[str, Decimal] = {}
        for move in moves:
            if move.cost_type not in lines:
                lines[move.cost_type] = ReserveLine(
                    claim_id=claim.id,
                    exposure_id=exposure.id,
                    cost_type=move.cost_type,
                    category="general",
                    created_at=_moment(reported_on),
                )
                session.add(lines[move.cost_type])
                await session.flush()
                outstanding[move.cost_type] = Decimal(0)
            amount = Decimal(move.amount)
            change = {"reserve": amount, "payment": -amount}.get(move.kind, Decimal(0))
            outstanding[move.cost_type] += change
            session.add(
                ClaimTransaction(
                    claim_id=claim.id,
                    exposure_id=exposure.id,
                    reserve_line_id=lines[move.cost_type].id,
                    kind=move.kind,
                    cost_type=move.cost_type,
                    amount=amount,
                    reserve_change=change,
                    reserve_after=outstanding[move.cost_type],
                    reason="test",
                    actor_id="tests",
                    recorded_at=_moment(move.on),
                    accounting_on=move.on,
                )
            )
        session.add(
            ClaimStatusChange(
                claim_id=claim.id, to_status="reported", actor_id="tests", at=_moment(reported_on)
            )
        )
        if closed_on:
            session.add(
                ClaimStatusChange(
                    claim_id=claim.id,
                    from_status="reported",
                    to_status="closed",
                    closed_outcome="paid",
                    actor_id="tests",
                    at=_moment(closed_on),
                )
            )
    return claim.id


async def book(runtime: Runtime, policy: dict[str, Any]) -> None:
    """The claims every reserving and report test reads (valuation 2026-12-31):

    A  auto, loss 2024-03-10: reserve 1000, paid 300 (2024) and 500 (2025), salvage 100
       (2025), reserve -100 (2026), closed 2026-02-01, paid 50 in 2027 (after valuation)
    D  home OH, loss 2024-12-31, reported 2025-01-05: reserve 700 and paid 700 (2025)
    B  auto, loss 2025-07-01: reserve 2000 (2025), paid 1500 (2026)
    E  auto, loss 2026-06-01: reserve 800, paid 300 (2026)
    C  auto, loss 2026-11-30, reported 2027-01-03: reserve 400 (2027): after the valuation
    """
    await add_claim(
        runtime,
        policy,
        loss_on=date(2024, 3, 10),
        reported_on=date(2024, 3, 12),
        closed_on=date(2026, 2, 1),
        moves=[
            Move(date(2024, 3, 15), "reserve", "1000"),
            Move(date(2024, 6, 1), "payment", "300"),
            Move(date(2025, 2, 1), "payment", "500"),
            Move(date(2025, 5, 1), "salvage", "100"),
            Move(date(2026, 1, 10), "reserve", "-100"),
            Move(date(2027, 1, 5), "payment", "50"),
        ],
    )
    await add_claim(
        runtime,
        policy,
        product_code="homeowners_ho3",
        state="OH",
        loss_on=date(2024, 12, 31),
        reported_on=date(2025, 1, 5),
        moves=[
            Move(date(2025, 1, 10), "reserve", "700"),
            Move(date(2025, 1, 15), "payment", "700"),
        ],
    )
    await add_claim(
        runtime,
        policy,
        loss_on=date(2025, 7, 1),
        reported_on=date(2025, 7, 5),
        moves=[
            Move(date(2025, 7, 2), "reserve", "2000"),
            Move(date(2026, 3, 1), "payment", "1500"),
        ],
    )
    await add_claim(
        runtime,
        policy,
        loss_on=date(2026, 6, 1),
        reported_on=date(2026, 6, 2),
        moves=[
            Move(date(2026, 6, 3), "reserve", "800"),
            Move(date(2026, 7, 1), "payment", "300"),
        ],
    )
    await add_claim(
        runtime,
        policy,
        loss_on=date(2026, 11, 30),
        reported_on=date(2027, 1, 3),
        moves=[Move(date(2027, 1, 3), "reserve", "400")],
    )


async def policy_earning_in_2026(client: AsyncClient, runtime: Runtime) -> dict[str, Any]:
    """An auto policy bound on 2026-01-01, effective a week later: it earns in 2026."""
    with at(date(2026, 1, 1)):
        agent = await staff(client, runtime, Role.AGENT)
        made = await bound_policy(client, agent)
    return made.policy


def _line(report: dict[str, Any], product: str, period: str) -> dict[str, Any]:
    found = [x for x in report["lines"] if x["product_code"] == product and x["period"] == period]
    assert len(found) == 1, report["lines"]
    return dict(found[0])


async def earn_through_valuation(runtime: Runtime) -> None:
    """The earning job, run at every month's end of 2026 (in production it runs daily): the
    ledger's earned premium by accounting period, which the loss ratios divide by."""
    for month in range(1, 13):
        month_end = date(2026, month + 1, 1) - timedelta(days=1) if month < 12 else VALUATION
        with at(month_end + timedelta(days=1)):
            async with runtime.db.unit_of_work() as session:
                assert isinstance(await billing.post_earned(session, through=month_end), Ok)


async def test_loss_report_by_accident_year_at_a_valuation_date(
    client: AsyncClient, runtime: Runtime
) -> None:
    policy = await policy_earning_in_2026(client, runtime)
    await book(runtime, policy)
    auto = policy["product_code"]
    admin = await staff(client, runtime, Role.ADMIN)
    headers = await fresh(client, admin)
    query = {"valuation_on": VALUATION.isoformat(), "start": "2024-01-01"}
    # Before the earning job has run, the ledger has earned nothing: no loss ratio yet.
    before = await client.get("/api/v1/reports/losses", params=query, headers=headers)
    assert before.status_code == 200, before.text
    assert _line(before.json(), auto, "2026")["earned_premium"] == "0.00"
    assert _line(before.json(), auto, "2026")["loss_ratio"] is None
    await earn_through_valuation(runtime)
    response = await client.get("/api/v1/reports/losses", params=query, headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    a2024 = _line(report, auto, "2024")
    # Paid gross 800, salvage 100, 100 still reserved: incurred 800 net of the recovery; the
    # 2027 payment is after the valuation date.
    assert (a2024["paid"], a2024["recoveries"], a2024["case_reserves"], a2024["incurred"]) == (
        "800.00",
        "100.00",
        "100.00",
        "800.00",
    )
    assert (a2024["reported"], a2024["open"], a2024["closed"]) == (1, 0, 1)
    assert a2024["earned_premium"] == "0.00"
    assert a2024["loss_ratio"] is None
    home = _line(report, "homeowners_ho3", "2024")
    assert (home["state"], home["incurred"], home["open"]) == ("OH", "700.00", 1)
    a2025 = _line(report, auto, "2025")
    assert (a2025["paid"], a2025["case_reserves"], a2025["incurred"]) == (
        "1500.00",
        "500.00",
        "2000.00",
    )
    a2026 = _line(report, auto, "2026")
    # Claim C happened in 2026 but was reported in 2027: not in the books on the valuation.
    assert (a2026["incurred"], a2026["reported"], a2026["open"]) == ("800.00", 1, 1)
    earned = Decimal(a2026["earned_premium"])
    assert earned > 0
    assert Decimal(a2026["loss_ratio"]) == (Decimal(800) / earned).quantize(Decimal("0.0001"))
    assert report["totals"]["incurred"] == "4300.00"
    assert report["totals"]["reported"] == 4
    # The earned premium is the ledger's: its lines by period add up to the account's balance.
    assert report["ledger"]["earning_not_yet_posted"] == "0.00"
    assert report["ledger"]["ledger_earned_premium"] == a2026["earned_premium"]
    # A product filter keeps only its lines.
    only = await client.get(
        "/api/v1/reports/losses", params={**query, "product_code": auto}, headers=headers
    )
    assert {line["product_code"] for line in only.json()["lines"]} == {auto}
    assert only.json()["ledger"] is None


async def test_loss_report_by_calendar_year(client: AsyncClient, runtime: Runtime) -> None:
    policy = await policy_earning_in_2026(client, runtime)
    await book(runtime, policy)
    auto = policy["product_code"]
    headers = await fresh(client, await staff(client, runtime, Role.ADJUSTER))
    response = await client.get(
        "/api/v1/reports/losses",
        params={"valuation_on": "2026-12-31", "start": "2025-01-01", "basis": "calendar"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    report = response.json()
    c2026 = _line(report, auto, "2026")
    # 2026: paid 1500 (B) + 300 (E); reserves moved -100 (A), -1500 (B), +500 (E).
    assert (c2026["paid"], c2026["incurred"], c2026["case_reserves"]) == (
        "1800.00",
        "700.00",
        "1100.00",
    )
    assert (c2026["reported"], c2026["closed"], c2026["open"]) == (1, 1, 2)
    c2025 = _line(report, auto, "2025")
    # 2025: paid 500, salvage 100, reserves -500 (A) +2000 (B): case reserves carried from 2024.
    assert (c2025["paid"], c2025["recoveries"], c2025["incurred"], c2025["case_reserves"]) == (
        "500.00",
        "100.00",
        "1900.00",
        "2200.00",
    )
    assert report["totals"]["case_reserves"] == "1100.00"


async def test_loss_report_needs_reports_read_and_a_sane_period(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    refused = await client.get("/api/v1/reports/losses", headers=await fresh(client, agent))
    assert refused.status_code == 403
    admin = await fresh(client, await staff(client, runtime, Role.ADMIN))
    late = await client.get(
        "/api/v1/reports/losses",
        params={"valuation_on": "2026-12-31", "start": "2027-01-01"},
        headers=admin,
    )
    assert late.status_code == 422
    assert late.json()["code"] == "report.bad_period"
    many = await client.get(
        "/api/v1/reports/losses",
        params={"valuation_on": "2026-12-31", "start": "2010-01-01", "grain": "month"},
        headers=admin,
    )
    assert many.status_code == 422
    assert many.json()["code"] == "report.too_many_periods"


async def test_loss_report_by_quarter_and_month(client: AsyncClient, runtime: Runtime) -> None:
    policy = await policy_earning_in_2026(client, runtime)
    await book(runtime, policy)
    auto = policy["product_code"]
    headers = await fresh(client, await staff(client, runtime, Role.ADMIN))
    await earn_through_valuation(runtime)
    query = {"valuation_on": "2026-12-31", "start": "2026-01-01", "product_code": auto}
    quarters = await client.get(
        "/api/v1/reports/losses", params={**query, "grain": "quarter"}, headers=headers
    )
    q2 = _line(quarters.json(), auto, "2026Q2")
    assert (q2["period_start"], q2["period_end"], q2["incurred"]) == (
        "2026-04-01",
        "2026-06-30",
        "800.00",
    )
    # Every quarter the six-month term (8 January to 8 July) earns in has its line, with or
    # without a loss in it; the fourth earns nothing and had no loss.
    assert [line["period"] for line in quarters.json()["lines"]] == ["2026Q1", "2026Q2", "2026Q3"]
    assert all(Decimal(line["earned_premium"]) > 0 for line in quarters.json()["lines"])
    months = await client.get(
        "/api/v1/reports/losses",
        params={**query, "grain": "month", "basis": "calendar"},
        headers=headers,
    )
    march = _line(months.json(), auto, "2026-03")
    assert (march["paid"], march["case_reserves"]) == ("1500.00", "600.00")
    december = _line(months.json(), auto, "2026-12")
    assert (december["case_reserves"], december["open"]) == ("1100.00", 2)
