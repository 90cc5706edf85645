"""``pd-prime bench claims``: loss triangles from a million claim transactions, and Mack.

In a throwaway database: one bound policy (through the services), then N claims over ten
accident years with an exposure and a reserve line each, and their transactions (reserves,
payments, salvage), all generated inside PostgreSQL by ``INSERT ... SELECT generate_series``
(seconds, not the hours a loop through the services would take). Then it times what an actuary
asks for: building the paid and the incurred triangle through ``claims.service.reserving``
(each ONE aggregate query over the transactions joined to their claims, then summed along the
rows), and a Mack run on the resulting 10x10 paid triangle, both as the pure numerics and as a
stored analysis. It prints wall time and the CPU of this process and of PostgreSQL.

``extra`` steps run on the same database after the figures (the FNOL-through-the-API
comparison is one such step, added with the FNOL benchmark).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

Echo = Callable[[str], object]
Step = Callable[[Any, Echo], Awaitable[dict[str, float]]]
ACCIDENT_YEARS = 10


def valuation_for(today: date) -> date:
    """The last year-end before ``today``: ten full accident years before it."""
    return date(today.year - 1, 12, 31)


async def one_policy(session: AsyncSession, runtime: Any) -> tuple[uuid.UUID, uuid.UUID]:
    """A policy bound through the services (customer, quote, bind): (policy id, customer id)."""
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Ok
    from pd_prime_demo.customers import service as customers
    from pd_prime_demo.customers.schemas import PersonCreate
    from pd_prime_demo.policies import service as policies
    from pd_prime_demo.quotes import service as quotes
    from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE, QuoteCreate

    actor = Actor.system("bench")
    person = PersonCreate(
        kind="person",
        first_name="Bench",
        last_name="Claims",
        email=f"claims-{uuid.uuid4().hex[:8]}@bench.example.com",
        address={"line1": "1 Main St", "city": "Austin", "state": "TX", "postal_code": "78701"},
    )
    created = await customers.create_customer(session, person, actor=actor, cipher=runtime.cipher)
    assert isinstance(created, Ok), created
    body = {**AUTO_EXAMPLE, "customer_id": str(created.value.id)}
    body["effective_on"] = date.today().isoformat()
    quote = await quotes.create_quote(session, QuoteCreate.model_validate(body), actor=actor)
    assert isinstance(quote, Ok), quote
    bound = await policies.bind_quote(
        session, quote.value.id, option="standard", payment_plan="monthly", actor=actor
    )
    assert isinstance(bound, Ok), bound
    return bound.value.policy.id, created.value.id


# Claims spread over the ten accident years before the valuation, two products, three states.
_CLAIMS = """
INSERT INTO claims (id, serial, number, policy_id, customer_id, product_code, state, loss_at,
  loss_on, loss_time_zone, cause_code, location, description, reported_at, reported_by,
  reported_via, coverage_status, coverage_findings, status, updated_at)
SELECT gen_random_uuid(), CAST(:first AS bigint) + g, 'BENCH-' || (CAST(:first AS bigint) + g),
  CAST(:policy AS uuid), CAST(:customer AS uuid),
  (ARRAY['personal_auto', 'homeowners_ho3'])[1 + g % 2], (ARRAY['TX', 'OH', 'FL'])[1 + g % 3],
  (d + time '12:00') AT TIME ZONE 'America/Chicago', d, 'America/Chicago', 'collision', '{}',
  'generated', (d + (g % 40) + time '12:00') AT TIME ZONE 'America/Chicago', 'bench', 'staff',
  'verified', '[]', 'open', now()
FROM generate_series(1, CAST(:claims AS integer)) AS g,
  LATERAL (SELECT CAST(:start_on AS date) + (g * 7919) % CAST(:days AS integer) AS d) AS loss
"""
_EXPOSURES = """
INSERT INTO claim_exposures (id, claim_id, seq, coverage_code, deductible_amount, terms, status,
  created_by, created_at)
SELECT gen_random_uuid(), id, 1, 'collision', 0, '', 'open', 'bench', now()
FROM claims WHERE serial > CAST(:first AS bigint)
"""
_LINES = """
INSERT INTO claim_reserve_lines (id, claim_id, exposure_id, cost_type, category, reserve, paid,
  recovered, created_at)
SELECT gen_random_uuid(), claim_id, id, 'indemnity', 'general', 0, 0, 0, now()
FROM claim_exposures WHERE created_by = 'bench'
"""
# Per claim: a reserve, payments, a salvage, a reserve change, spread over the following years
# (some after the valuation date, which the triangles leave out).
_TRANSACTIONS = """
INSERT INTO claim_transactions (claim_id, exposure_id, reserve_line_id, kind, cost_type, amount,
  reserve_change, reserve_after, reason, actor_id, recorded_at, accounting_on)
SELECT l.claim_id, l.exposure_id, l.id, m.kind, 'indemnity', m.amount,
  CASE m.kind WHEN 'reserve' THEN m.amount WHEN 'payment' THEN -m.amount ELSE 0 END,
  0, 'generated', 'bench', now(),
  c.loss_on + CAST(k * (20 + (c.serial * 31 + k * 17) % 160) AS integer)
FROM claim_reserve_lines l
JOIN claims c ON c.id = l.claim_id
CROSS JOIN generate_series(0, CAST(:per_claim AS integer) - 1) AS k,
  LATERAL (SELECT
    CASE WHEN k = 0 THEN 'reserve' WHEN k = CAST(:per_claim AS integer) - 1 THEN 'salvage'
         WHEN k % 4 = 3 THEN 'reserve' ELSE 'payment' END AS kind,
    ((c.serial * 13 + k * 101) % 90000 / 100.0 + 10)::numeric(14, 2) AS amount) AS m
WHERE c.serial > CAST(:first AS bigint)
"""


async def generate(
    session: AsyncSession,
    *,
    policy_id: uuid.UUID,
    customer_id: uuid.UUID,
    claims: int,
    per_claim: int,
    valuation: date,
) -> int:
    """``claims`` claims with ``per_claim`` transactions each, by set-based INSERTs; returns
    the transactions written."""
    start = date(valuation.year - ACCIDENT_YEARS + 1, 1, 1)
    superuser = await session.scalar(
        text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
    )
    if superuser:
        # The rows are consistent by construction: skip the per-row foreign-key triggers
        # (three a transaction) for this transaction only, which would triple the time.
        await session.execute(text("SET LOCAL session_replication_role = replica"))
    first = int(await session.scalar(text("SELECT coalesce(max(serial), 0) FROM claims")) or 0)
    await session.execute(
        text(_CLAIMS),
        {
            "first": first,
            "policy": policy_id,
            "customer": customer_id,
            "claims": claims,
            "start_on": start,
            "days": (valuation - start).days + 1,
        },
    )
    await session.execute(text(_EXPOSURES), {"first": first})
    await session.execute(text(_LINES))
    written = await session.execute(text(_TRANSACTIONS), {"first": first, "per_claim": per_claim})
    return int(getattr(written, "rowcount", 0))


def _postgres_cpu() -> float | None:
    from pd_prime_demo.bench.imports import _postgres_cpu as measure

    return measure()


def _process_cpu(pid: int) -> float | None:
    """CPU seconds of one process on this machine (None if it cannot be read)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def time_triangles(
    runtime: Any, valuation: date, echo: Echo, *, rounds: int = 2
) -> dict[str, Any]:
    """Build the paid and the incurred triangle (each one aggregate query) ``rounds`` times
    each, and time every build: wall, this process's CPU, the database backend's CPU (when
    the server runs here; a parallel query's workers are in "all PostgreSQL", which also
    counts whatever else the server is doing)."""
    from pd_prime_demo.claims.schemas_reserving import TriangleBuild
    from pd_prime_demo.claims.service import reserving
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Ok

    actor = Actor.system("bench")
    figures: dict[str, Any] = {}
    for n, measure in itertools.product(range(rounds), ("paid", "incurred")):
        body = TriangleBuild(name=f"bench {measure}", measure=measure, valuation_on=valuation)
        async with runtime.db.unit_of_work() as session:
            pid = int(await session.scalar(text("SELECT pg_backend_pid()")) or 0)
            backend, server = _process_cpu(pid), _postgres_cpu()
            cpu, started = time.process_time(), time.perf_counter()
            built = await reserving.build_triangle(session, body, actor=actor)
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            backend_after, server_after = _process_cpu(pid), _postgres_cpu()
        assert isinstance(built, Ok), built
        shape = (len(built.value.cells["origins"]), len(built.value.cells["ages"]))
        key = measure if n == 0 else f"{measure} again"
        figures[f"{key} s"] = wall
        figures[f"{key} cpu s"] = cpu
        figures[f"{measure} triangle"] = built.value.id
        line = f"{key} triangle {shape[0]}x{shape[1]}: {wall * 1000:,.0f} ms wall, "
        line += f"CPU {cpu * 1000:,.0f} ms here"
        if backend is not None and backend_after is not None:
            figures[f"{key} backend cpu s"] = backend_after - backend
            line += f", {(backend_after - backend) * 1000:,.0f} ms in the database backend"
        if server is not None and server_after is not None:
            figures[f"{key} postgres cpu s"] = server_after - server
            line += f", {(server_after - server) * 1000:,.0f} ms in all PostgreSQL"
        echo(line)
    return figures


async def time_loss_report(runtime: Any, valuation: date, echo: Echo) -> dict[str, float]:
    """The loss report over the ten accident years (two GROUP BY queries over the book)."""
    from pd_prime_demo.claims.service import reports
    from pd_prime_demo.core.result_types import Ok

    started = time.perf_counter()
    async with runtime.db.sessionmaker() as session:
        report = await reports.loss_report(
            session, valuation=valuation, start=date(valuation.year - ACCIDENT_YEARS + 1, 1, 1)
        )
    wall = time.perf_counter() - started
    assert isinstance(report, Ok), report
    echo(
        f"loss report by accident year, product and state ({len(report.value.lines)} lines, "
        f"{report.value.totals.reported:,} claims): {wall * 1000:,.0f} ms wall"
    )
    return {"loss report s": wall}


def time_mack(values: Any, *, repeat: int) -> float:
    """Seconds per Mack run (log-linear sigma) on ``values``, a cumulative triangle."""
    from pd_prime_demo.claims.mack import mack
    from pd_prime_demo.claims.triangles import Triangle

    n = len(values)
    tri = Triangle(
        tuple(str(2000 + i) for i in range(n)),
        tuple(12 * (k + 1) for k in range(len(values[0]))),
        values,
        "paid",
        allow_decrease=True,
    )
    started = time.perf_counter()
    for _ in range(repeat):
        mack(tri)
    return (time.perf_counter() - started) / repeat


async def time_stored_mack(runtime: Any, triangle_id: uuid.UUID) -> float:
    """Seconds to run Mack on a stored triangle and store the analysis (the API's work)."""
    from pd_prime_demo.claims.schemas_reserving import MackRun
    from pd_prime_demo.claims.service import reserving
    from pd_prime_demo.core.actor import Actor
    from pd_prime_demo.core.result_types import Ok

    started = time.perf_counter()
    async with runtime.db.unit_of_work() as session:
        ran = await reserving.run_analysis(
            session, triangle_id, MackRun(method="mack"), actor=Actor.system("bench")
        )
    assert isinstance(ran, Ok), ran
    return time.perf_counter() - started


def run_claims_benchmark(
    *,
    transactions: int = 1_000_000,
    per_claim: int = 10,
    mack_runs: int = 200,
    extra: Sequence[Step] = (),
    echo: Echo = print,
) -> dict[str, Any]:
    from pd_prime_demo import bootstrap
    from pd_prime_demo.core.database import create_database, drop_database

    base = bootstrap.settings(demo=True)
    assert base.database_url is not None
    scratch = asyncio.run(
        create_database(base.database_url, f"pd_prime_bench_claims_{os.getpid()}")
    )
    settings = base.model_copy(update={"database_url": scratch})
    try:
        bootstrap.migrate(settings)
        return asyncio.run(_measure(settings, transactions, per_claim, mack_runs, extra, echo))
    finally:
        asyncio.run(drop_database(base.database_url, scratch))


async def _measure(
    settings: Any,
    transactions: int,
    per_claim: int,
    mack_runs: int,
    extra: Sequence[Step],
    echo: Echo,
) -> dict[str, Any]:
    import numpy as np

    from pd_prime_demo.claims.service import reserving
    from pd_prime_demo.core.result_types import Ok
    from pd_prime_demo.core.runtime import Runtime
    from pd_prime_demo.seed import seed_products

    runtime = Runtime.create(settings)
    valuation = valuation_for(date.today())
    try:
        async with runtime.db.unit_of_work() as session:
            await seed_products(session)
            policy_id, customer_id = await one_policy(session, runtime)
        started = time.perf_counter()
        async with runtime.db.unit_of_work() as session:
            written = await generate(
                session,
                policy_id=policy_id,
                customer_id=customer_id,
                claims=max(1, transactions // per_claim),
                per_claim=per_claim,
                valuation=valuation,
            )
        generated = time.perf_counter() - started
        # As a database that has been running a while: statistics, and a visibility map that
        # lets the aggregate read the covering index alone.
        async with runtime.db.engine.connect() as conn:
            autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE claims"))
            await autocommit.execute(text("VACUUM ANALYZE claim_transactions"))
        echo(
            f"generated {written:,} claim transactions on {transactions // per_claim:,} claims "
            f"in {generated:.1f} s (INSERT ... SELECT generate_series), vacuumed in "
            f"{time.perf_counter() - started - generated:.1f} s; "
            f"valuation {valuation.isoformat()}"
        )
        figures = await time_triangles(runtime, valuation, echo)
        figures.update(await time_loss_report(runtime, valuation, echo))
        async with runtime.db.sessionmaker() as session:
            found = await reserving.get_triangle(session, figures["paid triangle"])
        assert isinstance(found, Ok), found
        values = np.array(
            [[np.nan if v is None else v for v in r] for r in found.value.cells["values"]]
        )
        per_run = time_mack(values, repeat=mack_runs)
        stored = await time_stored_mack(runtime, figures["paid triangle"])
        figures["mack s"] = per_run
        figures["stored mack s"] = stored
        echo(
            f"Mack (log-linear sigma) on the {values.shape[0]}x{values.shape[1]} paid triangle: "
            f"{per_run * 1000:.2f} ms a run (mean of {mack_runs}); run and stored as an "
            f"analysis: {stored * 1000:.0f} ms"
        )
        for step in extra:
            figures.update(await step(runtime, echo))
        return figures
    finally:
        await runtime.close()
