"""The claims benchmark's building blocks on a small book: the set-based generator writes what
it says, the timed triangle builds see it, and Mack runs on their result (no timed assertions).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
from sqlalchemy import func, select

from pd_prime_demo.bench.claims import (
    generate,
    one_policy,
    time_loss_report,
    time_mack,
    time_stored_mack,
    time_triangles,
    valuation_for,
)
from pd_prime_demo.claims.models import Claim
from pd_prime_demo.claims.money_models import ClaimTransaction
from pd_prime_demo.claims.reserving_models import LossTriangle, ReserveAnalysis
from pd_prime_demo.core.runtime import Runtime


async def test_generated_book_builds_triangles_and_runs_mack(runtime: Runtime) -> None:
    valuation = valuation_for(date(2026, 12, 1))
    assert valuation == date(2025, 12, 31)
    async with runtime.db.unit_of_work() as session:
        policy_id, customer_id = await one_policy(session, runtime)
        written = await generate(
            session,
            policy_id=policy_id,
            customer_id=customer_id,
            claims=60,
            per_claim=5,
            valuation=valuation,
        )
    assert written == 300
    async with runtime.db.sessionmaker() as session:
        claims = (await session.execute(select(func.min(Claim.loss_on), func.count()))).one()
        assert claims[0] >= date(2016, 1, 1)
        assert claims[1] == 60
        kinds = dict(
            (
                await session.execute(
                    select(ClaimTransaction.kind, func.count()).group_by(ClaimTransaction.kind)
                )
            ).all()
        )
        # Per claim: a reserve first, a salvage last, payments and a reserve change between.
        assert kinds == {"reserve": 120, "payment": 120, "salvage": 60}
        paid_by_valuation = await session.scalar(
            select(func.sum(ClaimTransaction.amount)).where(
                ClaimTransaction.kind == "payment", ClaimTransaction.accounting_on <= valuation
            )
        )
        salvage_by_valuation = await session.scalar(
            select(func.sum(ClaimTransaction.amount)).where(
                ClaimTransaction.kind == "salvage", ClaimTransaction.accounting_on <= valuation
            )
        )
    lines: list[str] = []
    figures = await time_triangles(runtime, valuation, lines.append, rounds=2)
    assert [line.split(":")[0] for line in lines] == [
        "paid triangle 10x10",
        "incurred triangle 10x10",
        "paid again triangle 10x10",
        "incurred again triangle 10x10",
    ]
    async with runtime.db.sessionmaker() as session:
        paid = await session.get(LossTriangle, figures["paid triangle"])
        assert paid is not None
        latest = [next(v for v in reversed(row) if v is not None) for row in paid.cells["values"]]
    # The diagonal of the net paid triangle is everything paid less salvage by the valuation.
    total = Decimal(repr(sum(latest)))
    assert paid_by_valuation is not None
    assert salvage_by_valuation is not None
    assert total.quantize(Decimal("0.01")) == paid_by_valuation - salvage_by_valuation
    assert (await time_loss_report(runtime, valuation, lines.append))["loss report s"] > 0
    assert lines[-1].startswith("loss report by accident year, product and state (")
    values = np.array([[np.nan if v is None else v for v in r] for r in paid.cells["values"]])
    assert time_mack(values, repeat=2) > 0
    assert await time_stored_mack(runtime, paid.id) > 0
    async with runtime.db.sessionmaker() as session:
        stored = await session.scalar(
            select(ReserveAnalysis).where(ReserveAnalysis.triangle_id == paid.id)
        )
        assert stored is not None
        assert stored.result["sigma_method"] == "log-linear"
