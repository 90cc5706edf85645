"""The premium report's figures summed in PostgreSQL equal, to the cent, what the Python earning
rule gives over the same pieces (the previous implementation, kept here as the oracle), and
the earning run posts one journal per product, state and day with hand-computed amounts.

The pieces are written straight into ``premium_earnings`` (foreign keys off inside the test's
rolled-back transaction): what is under test is the arithmetic over any mix of pieces the
policy transactions write (new business, mid-term endorsements, cancellations' negative
pieces and instant pieces, months-basis terms, future accounting dates, late recording)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import repository
from pd_prime_demo.billing import service as billing
from pd_prime_demo.billing.models import JournalEntry, LedgerLine, PremiumEarning
from pd_prime_demo.billing.service.earning import PremiumFigures
from pd_prime_demo.core.clock import frozen_at
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.premium.earning import Earning, earned_through
from pd_prime_demo.premium.proration import Proration, add_months

ZERO = Decimal(0)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def earning_of(p: PremiumEarning) -> Earning:
    return Earning(p.amount, p.start_on, p.end_on, Proration(p.basis), (p.term_start, p.term_end))


async def oracle(
    session: AsyncSession, *, start: date, end: date, known_at: datetime | None
) -> list[PremiumFigures]:
    """premium_figures as it was before the aggregate: every piece into Python."""
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
            line.written += sum((p.amount for p in booked if p.accounting_on >= start), ZERO)
            line.written_to_date += sum((p.amount for p in booked), ZERO)
            earned_end = earned_through([earning_of(p) for p in booked], end)
            line.earned_to_date += earned_end
            earlier = [earning_of(p) for p in booked if p.accounting_on <= before]
            line.earned += earned_end - earned_through(earlier, before)
            line.unearned += sum((p.amount for p in booked), ZERO) - earned_end
        lines.append(line)
    return lines


async def write_pieces(session: AsyncSession, pieces: list[dict[str, Any]]) -> None:
    await session.execute(text("SET LOCAL session_replication_role = replica"))  # no FKs
    await session.execute(insert(PremiumEarning), pieces)
    await session.execute(text("SET LOCAL session_replication_role = origin"))


@st.composite
def policy_pieces(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A policy's pieces: its term's premium, then endorsements from mid-term (some dated
    in the future, some recorded late), perhaps a cancellation (the unearned rest returned,
    an instant piece kept)."""
    product = draw(st.sampled_from(["auto", "home", "Umbrella_x"]))
    state = draw(st.sampled_from(["TX", "FL", "oh"]))
    basis = draw(st.sampled_from(["days", "months"]))
    term_start = date(2025, 1, 1) + timedelta(days=draw(st.integers(0, 500)))
    if draw(st.booleans()):
        term_start = date(term_start.year, term_start.month, 1) - timedelta(days=1)  # month end
    term_end = add_months(term_start, draw(st.sampled_from([6, 12])))
    policy = uuid.uuid4()
    base = {
        "policy_id": policy,
        "product_code": product,
        "state": state,
        "basis": basis,
        "term_start": term_start,
        "term_end": term_end,
    }

    def piece(amount: Decimal, start: date, end: date, booked: date, late: int) -> dict[str, Any]:
        return base | {
            "source_id": uuid.uuid4(),
            "amount": amount,
            "start_on": start,
            "end_on": end,
            "accounting_on": booked,
            "recorded_at": datetime.combine(booked, datetime.min.time(), UTC)
            + timedelta(days=late),
        }

    cents = st.integers(1, 300_000).map(lambda c: Decimal(c) / 100)
    days = (term_end - term_start).days
    pieces = [piece(draw(cents), term_start, term_end, term_start, 0)]
    for _ in range(draw(st.integers(0, 3))):
        at = term_start + timedelta(days=draw(st.integers(0, days)))
        change = draw(cents) * draw(st.sampled_from([1, -1]))
        booked = at - timedelta(days=draw(st.integers(0, 40)))  # future-dated when booked early
        pieces.append(piece(change, at, term_end, max(at, booked), draw(st.integers(0, 90))))
    if draw(st.booleans()):
        at = term_start + timedelta(days=draw(st.integers(0, days)))
        total = sum((p["amount"] for p in pieces), ZERO)
        pieces.append(piece(-total, at, term_end, at, draw(st.integers(0, 10))))
        pieces.append(piece(draw(cents) / 10, at, at, at, 0))  # short-rate penalty, earned
    return pieces


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    book=st.lists(policy_pieces(), min_size=1, max_size=25),
    start_day=st.integers(0, 700),
    length=st.sampled_from([0, 30, 90, 364]),
    known=st.none() | st.integers(0, 800),
)
async def test_the_report_summed_in_sql_equals_the_python_rule(
    session: AsyncSession,
    book: list[list[dict[str, Any]]],
    start_day: int,
    length: int,
    known: int | None,
) -> None:
    await session.execute(text("SAVEPOINT book"))
    await write_pieces(session, [p for pieces in book for p in pieces])
    start = date(2025, 1, 1) + timedelta(days=start_day)
    end = start + timedelta(days=length)
    known_at = None if known is None else T0 + timedelta(days=known)
    got = await billing.premium_figures(session, start=start, end=end, known_at=known_at)
    assert got == await oracle(session, start=start, end=end, known_at=known_at)
    await session.execute(text("ROLLBACK TO SAVEPOINT book"))


async def earning_journals(session: AsyncSession) -> dict[str, Decimal]:
    rows = await session.execute(
        select(JournalEntry.source_id, LedgerLine.credit - LedgerLine.debit)
        .join(LedgerLine, LedgerLine.journal_id == JournalEntry.id)
        .where(JournalEntry.source == "ledger.earning", LedgerLine.account == "earned_premium")
    )
    return {source_id: Decimal(amount) for source_id, amount in rows}


async def test_earning_posts_one_hand_computed_journal_per_product_state_and_day(
    session: AsyncSession,
) -> None:
    """Two policies in two products and states, one endorsed mid-term, earned by days.

    Policy A (auto, TX): 365.00 over 2025-01-01..2026-01-01 (365 days, 1.00 a day); endorsed
    +73.00 from 2025-03-02 to the term's end (305 days), booked 2025-03-02.
    Policy B (home, FL): 1,200.00 over 2025-02-01..2026-02-01 (365 days).

    Through 2025-01-31: A earns 31 days = 31.00; B has not started = 0 -> one journal, auto TX
    31.00 (home FL posts nothing: nothing is earned).
    Through 2025-03-31: A base 90 days = 90.00; A's endorsement 30 of 305 days
    = 73 * 30 / 305 = 7.1803... -> 7.18; A = 97.18, so auto TX posts 97.18 - 31.00 = 66.18.
    B: 59 of 365 days (28 in February, 31 in March) = 1200 * 59 / 365 = 193.9726... -> 193.97
    (home FL posts 193.97).
    Running 2025-03-31 again posts nothing.
    """
    a, b = uuid.uuid4(), uuid.uuid4()
    common = {"basis": "days", "recorded_at": T0}
    year = {"term_start": date(2025, 1, 1), "term_end": date(2026, 1, 1)}
    await write_pieces(
        session,
        [
            common | year | {"policy_id": a, "product_code": "auto", "state": "TX",
                             "source_id": uuid.uuid4(), "amount": Decimal("365.00"),
                             "start_on": date(2025, 1, 1), "end_on": date(2026, 1, 1),
                             "accounting_on": date(2025, 1, 1)},
            common | year | {"policy_id": a, "product_code": "auto", "state": "TX",
                             "source_id": uuid.uuid4(), "amount": Decimal("73.00"),
                             "start_on": date(2025, 3, 2), "end_on": date(2026, 1, 1),
                             "accounting_on": date(2025, 3, 2)},
            common | {"policy_id": b, "product_code": "home", "state": "FL",
                      "source_id": uuid.uuid4(), "amount": Decimal("1200.00"),
                      "start_on": date(2025, 2, 1), "end_on": date(2026, 2, 1),
                      "term_start": date(2025, 2, 1), "term_end": date(2026, 2, 1),
                      "accounting_on": date(2025, 2, 1)},
        ],
    )  # fmt: skip
    with frozen_at(datetime(2025, 4, 1, 12, tzinfo=UTC)):
        assert await billing.post_earned(session, through=date(2025, 1, 31)) == Ok(1)
        assert await billing.post_earned(session, through=date(2025, 3, 31)) == Ok(2)
        assert await billing.post_earned(session, through=date(2025, 3, 31)) == Ok(0)
    assert await earning_journals(session) == {
        "earning:auto:TX:2025-01-31": Decimal("31.00"),
        "earning:auto:TX:2025-03-31": Decimal("66.18"),
        "earning:home:FL:2025-03-31": Decimal("193.97"),
    }
    one = await billing.policy_earned(session, a, date(2025, 3, 31))
    assert (one.written, one.earned, one.unearned) == (
        Decimal("438.00"),
        Decimal("97.18"),
        Decimal("340.82"),
    )
    # A group given posts only that group; restating it to January winds only it back.
    with frozen_at(datetime(2025, 4, 1, 12, tzinfo=UTC)):
        restated = await billing.post_earned(
            session, through=date(2025, 1, 31), restate=True, product_code="auto", state="TX"
        )
    assert restated == Ok(1)  # the reversal of 2025-03-31 (January's 31.00 still holds)
    ledger = await billing.balances(session)
    assert -ledger[billing.Account.EARNED] == Decimal("31.00") + Decimal("193.97")
