"""``pd-prime bench book``: a carrier-sized book on one machine (issue 19), at each size asked.

For each size, in a scratch database of its own (dropped after, unless ``keep``):

1. **Build**: the demo seed (products, logins), then a synthetic legacy book (``bench.book``)
   written as several shard files at once and converted by as many ``pd-prime policies import``
   processes at once, the import's own bulk path, on the day the simulation starts.
2. **A month of daily jobs**: day 0 (the catch-up after the conversion: earning since each
   policy's inception, the relay of the conversion's events) and each simulated day after it,
   each day's jobs in worker processes of their own (``bench.book_travel``: the sweeps as
   ``pd-prime worker --once`` runs them, each timed, then the queue until nothing is due).
3. **The read side**, on the last simulated day (today): a fresh server for each of the premium
   report for the month and for the year, the trial balance, and the request mix (policy pages,
   a policy read, an as-of read: p50 and p99); ``pd-prime ledger check`` and ``pd-prime audit
   verify`` as processes.

Every phase prints wall time, the CPU of the processes it measured (and of every PostgreSQL
process on this machine, which includes other work when the machine is shared), their peak
memory, the rows the scratch database wrote and read, and the load average; then the targets
of issue 19 and, with several sizes, the growth ratios between them.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from pd_prime_demo.bench.book_probe import Echo, Meter, Phase, Processes, plain_dsn, query
from pd_prime_demo.bench.book_reads import read_side
from pd_prime_demo.bench.book_report import HEADER, print_size, print_summary, row
from pd_prime_demo.bench.imports import write_book

_IMPORTED = re.compile(r"loaded (\d+), already loaded \d+, refused (\d+)")


def _write_shard(job: tuple[str, int, int, int, str]) -> tuple[int, float]:
    path, count, first, seed, today = job
    started = time.process_time()
    transactions = write_book(
        Path(path), count, fmt="json", today=date.fromisoformat(today), seed=seed, first=first
    )
    return transactions, time.process_time() - started


def _build(procs: Processes, dsn: str, n: int, start: date, shards: int, tmp: Path) -> list[Phase]:
    shards = max(1, min(shards, n))
    sizes = [n // shards + (1 if i < n % shards else 0) for i in range(shards)]
    jobs = [
        (str(tmp / f"shard{i}.json"), size, 1 + sum(sizes[:i]), 11 + i, start.isoformat())
        for i, size in enumerate(sizes)
    ]
    with Meter(dsn, f"build: write book ({shards} processes)") as gen:
        with ProcessPoolExecutor(shards) as pool:
            made = list(pool.map(_write_shard, jobs))
        gen.cpu = sum(cpu for _, cpu in made)
        mib = sum(Path(j[0]).stat().st_size for j in jobs) / 2**20
        gen.note = f"{sum(t for t, _ in made):,} transactions, {mib:,.0f} MiB of JSON"
    with Meter(dsn, f"build: import ({shards} processes)") as load:
        argvs = [["cli", "policies", "import", j[0], "--format", "json"] for j in jobs]
        # A policy the import refuses (exit 1, each problem listed) is a finding, not a stop.
        ran = procs.run_many(start, argvs, check=False)
        load.cpu = sum(r.cpu for r in ran)
        load.peak_mb = max(r.peak_mb for r in ran)
        found = [_IMPORTED.search(r.output) for r in ran]
        if not all(found):
            raise RuntimeError("an import failed:\n" + "\n".join(r.output[-2000:] for r in ran))
        loaded = sum(int(m.group(1)) for m in found if m)
        refused = sum(int(m.group(2)) for m in found if m)
        load.note = (
            f"loaded {loaded:,} ({loaded / max(r.wall for r in ran):,.0f}/s), refused {refused:,}"
        )
    for job in jobs:
        Path(job[0]).unlink()
    return [gen, load]


# What the day's queue did, per sweep (a chunk job is counted under its sweep) or task: jobs,
# the time they were busy (summed), the span from the first start to the last end.
_JOBS = """
SELECT coalesce(j.args->>'sweep', j.task_name), count(*),
       coalesce(sum(extract(epoch FROM e.done - e.began)), 0)::float8,
       coalesce(extract(epoch FROM max(e.done) - min(e.began)), 0)::float8,
       coalesce(max(extract(epoch FROM e.done - e.began)), 0)::float8
FROM procrastinate_jobs j
CROSS JOIN LATERAL (
    SELECT max(at) FILTER (WHERE type = 'started') AS began,
           max(at) FILTER (WHERE type IN ('succeeded', 'failed')) AS done
    FROM procrastinate_events WHERE job_id = j.id) e
WHERE j.id > $1 GROUP BY 1 ORDER BY 1
"""
_LAST_JOB = "SELECT coalesce(max(id), 0) FROM procrastinate_jobs"
_BILLED = (
    "SELECT count(*) FILTER (WHERE invoiced_on = $1), count(*) FILTER (WHERE notice_sent_on = $1)"
    " FROM installments"
)


def _day(procs: Processes, dsn: str, day: date, name: str, workers: int) -> Phase:
    last = int(asyncio.run(query(dsn, _LAST_JOB))[0][0])
    with Meter(dsn, name) as phase:
        ran = procs.run_many(day, [["day"]] + [["drain"]] * (workers - 1))
        phase.cpu = sum(r.cpu for r in ran)
        phase.peak_mb = max(r.peak_mb for r in ran)
    figures = ran[0].figures
    planning = [f for k, f in figures.items() if k != "queue" and isinstance(f, dict)]
    phase.extra["planning s"] = sum(f["wall"] for f in planning)
    phase.extra["queue s"] = max(r.figures.get("queue", {}).get("wall", 0.0) for r in ran)
    jobs = asyncio.run(query(dsn, _JOBS, last))
    phase.extra["jobs"] = {
        str(r[0]): {"jobs": int(r[1]), "busy": r[2], "span": r[3], "longest": r[4]} for r in jobs
    }
    billed = asyncio.run(query(dsn, _BILLED, day))[0]
    phase.extra["invoiced"], phase.extra["notices"] = int(billed[0]), int(billed[1])
    return phase


async def _counts(dsn: str) -> dict[str, int]:
    rows = await query(
        dsn,
        "SELECT (SELECT count(*) FROM policies), (SELECT count(*) FROM policy_transactions), "
        "(SELECT count(*) FROM customers), (SELECT count(*) FROM audit_log), "
        "(SELECT count(*) FROM ledger_lines)",
    )
    names = ("policies", "transactions", "customers", "audit entries", "ledger lines")
    return dict(zip(names, (int(v) for v in rows[0]), strict=True))


async def _safe_counts(dsn: str) -> dict[str, int]:
    try:
        return await _counts(dsn)
    except Exception as error:
        return {"(counts unavailable)": 0, str(error)[:60]: 0}


def run_size(
    n: int,
    *,
    days: int,
    workers: int,
    shards: int,
    samples: int,
    keep: bool,
    echo: Echo,
    reuse: tuple[str, Path] | None = None,
) -> dict[str, Any]:
    """One size. ``reuse`` (a kept scratch database and its directory): only the read side,
    on the book as it stands (a run stopped after its build), and the database is kept."""
    from pd_prime_demo import bootstrap
    from pd_prime_demo.core import clock
    from pd_prime_demo.core.database import create_database, drop_database, to_async_url

    base = bootstrap.settings(demo=True)
    assert base.database_url is not None
    if reuse is None:
        name = f"pd_prime_bench_book_{n}_{os.getpid()}"
        scratch = asyncio.run(create_database(base.database_url, name))
        tmp = Path(tempfile.mkdtemp(prefix=f"{name}_"))
    else:
        name, tmp = reuse
        scratch = to_async_url(
            make_url(base.database_url).set(database=name).render_as_string(hide_password=False)
        )
        keep = True
    dsn = plain_dsn(scratch)
    settings = base.model_copy(update={"database_url": scratch, "data_dir": tmp / "data"})
    today = clock.today()
    start = today - timedelta(days=days)
    phases: list[Phase] = []
    procs = Processes(scratch, tmp / "data")
    try:
        echo(f"\n== {n:,} policies: scratch database {name}; simulated {start} .. {today}")
        if reuse is None:
            bootstrap.migrate(settings)
            with Meter(dsn, "build: demo seed") as seed:
                ran = procs.run(start, "cli", "seed")
                seed.cpu, seed.peak_mb = ran.cpu, ran.peak_mb
            echo(HEADER)
            phases += [seed, *_build(procs, dsn, n, start, shards, tmp)]
            for built in phases:
                echo(row(built))
        counts = asyncio.run(_safe_counts(dsn))
        echo(f"   book: {', '.join(f'{v:,} {k}' for k, v in counts.items())}")
        for k in range(days + 1 if reuse is None else 0):
            label = "day 0 (catch-up)" if k == 0 else f"day {k}"
            phases.append(_day(procs, dsn, start + timedelta(days=k), label, workers))
            echo(row(phases[-1]))
        for read in read_side(procs, settings, dsn, today, start, samples):
            phases.append(read)
            echo(row(read))
        counts = asyncio.run(_safe_counts(dsn))
        result = {"policies": n, "counts": counts, "phases": phases, "database": name}
        print_size(result, echo)
        return result
    finally:
        if keep:
            echo(f"   kept: {scratch} (directory {tmp}: --reuse {name} --reuse-dir {tmp})")
        else:
            asyncio.run(drop_database(base.database_url, scratch))
            shutil.rmtree(tmp, ignore_errors=True)


def run_book_benchmark(
    *,
    sizes: list[int],
    days: int = 30,
    workers: int = 1,
    shards: int = 2,
    samples: int = 200,
    keep: bool = False,
    echo: Echo = print,
    reuse: tuple[str, Path] | None = None,
) -> list[dict[str, Any]]:
    echo(
        f"bench book: sizes {', '.join(f'{s:,}' for s in sizes)}; {days} simulated days, "
        f"{workers} worker process(es) a day, {shards} import processes; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    results = [
        run_size(
            n,
            days=days,
            workers=workers,
            shards=shards,
            samples=samples,
            keep=keep,
            echo=echo,
            reuse=reuse,
        )
        for n in sizes
    ]
    print_summary(results, echo)
    return results
