"""``pd-prime bench``: benchmarks that print figures (rating, the API, a book conversion).

Each benchmark module is imported only when its command runs: they pull in load generators and
synthetic books nothing else needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Benchmarks that print figures.", no_args_is_help=True)


@app.command("rating")
def bench_rating(
    policies: Annotated[
        int, typer.Option(help="Size of the synthetic book to re-rate.")
    ] = 1_000_000,
    samples: Annotated[int, typer.Option(help="Single-quote timings per product.")] = 20_000,
) -> None:
    """Single-quote latency per product and bulk re-rating throughput of a synthetic book."""
    from pd_prime_demo.bench.rating import run_rating_benchmark

    run_rating_benchmark(policies=policies, samples=samples, echo=typer.echo)


@app.command("api")
def bench_api(
    seconds: Annotated[float, typer.Option(help="Seconds of load per endpoint.")] = 10,
    concurrency: Annotated[int, typer.Option(help="Concurrent clients.")] = 16,
    suite: Annotated[str, typer.Option(help="quotes, or policies (bind, read, pay).")] = "quotes",
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
    callgrind: Annotated[
        bool,
        typer.Option(
            help="Run the server under valgrind's callgrind and print the instructions it "
            "executes per request: repeatable on a busy machine, unlike time (throughput is "
            "then some fifty times lower)."
        ),
    ] = False,
) -> None:
    """Throughput through the real server and PostgreSQL beside bare baselines."""
    from pd_prime_demo.bench.api import SetupError, run_api_benchmark

    if suite not in ("quotes", "policies"):
        raise typer.BadParameter("suite must be quotes or policies")
    try:
        run_api_benchmark(
            seconds=seconds,
            concurrency=concurrency,
            suite=suite,
            workers=workers,
            callgrind=callgrind,
            echo=typer.echo,
        )
    except SetupError as error:
        raise typer.BadParameter(str(error)) from error


@app.command("gate")
def bench_gate(
    update: Annotated[
        bool, typer.Option(help="Rewrite the baseline from this run instead of comparing.")
    ] = False,
    baseline: Annotated[Path, typer.Option(help="The committed baseline file.")] = Path(
        "ops/perf/baseline.json"
    ),
    samples: Annotated[int, typer.Option(min=3, help="Counted requests of each kind.")] = 11,
    warmup: Annotated[int, typer.Option(min=1, help="Uncounted requests of each kind first.")] = 4,
) -> None:
    """The performance gate: server instructions per quote, bind, read and payment, and the
    engine's per auto quote (callgrind), against the baseline; exits 1 on a figure more than
    5% above it."""
    from pd_prime_demo.bench.api import SetupError
    from pd_prime_demo.bench.gate import run_gate

    try:
        passed = run_gate(
            baseline_path=baseline,
            update=update,
            samples=samples,
            warmup=warmup,
            echo=typer.echo,
        )
    except SetupError as error:
        raise typer.BadParameter(str(error)) from error
    if not passed:
        raise typer.Exit(1)


@app.command("tracing")
def bench_tracing(
    seconds: Annotated[float, typer.Option(help="Seconds of load per endpoint and setting.")] = 8,
    concurrency: Annotated[int, typer.Option(help="Concurrent clients.")] = 8,
) -> None:
    """Quote and bind throughput and server CPU with tracing off, on without an exporter, and
    exporting over OTLP/HTTP to a local sink (and with multiprocess metrics)."""
    from pd_prime_demo.bench.tracing import run_tracing_benchmark

    run_tracing_benchmark(seconds=seconds, concurrency=concurrency, echo=typer.echo)


@app.command("jobs")
def bench_jobs(
    jobs: Annotated[int, typer.Option(min=100, help="Jobs per run.")] = 5000,
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs at a time per worker.")] = 8,
) -> None:
    """Job queue throughput with one and two worker processes, and the outbox relay's rate."""
    from pd_prime_demo.bench.jobs import run_jobs_benchmark

    run_jobs_benchmark(jobs=jobs, concurrency=concurrency, echo=typer.echo)


@app.command("webhooks")
def bench_webhooks(
    events: Annotated[
        int, typer.Option(min=1, help="Events per run; each goes to every subscription.")
    ] = 40,
    subscriptions: Annotated[
        int,
        typer.Option(
            min=1,
            max=20,
            help="Subscriptions of one API client (at most 20, the cap), all to one receiver.",
        ),
    ] = 10,
) -> None:
    """Webhook deliveries a second to a local receiver with one and two worker processes, and
    the latency from an event's commit to its delivery."""
    from pd_prime_demo.bench.webhooks import run_webhooks_benchmark

    run_webhooks_benchmark(events=events, subscriptions=subscriptions, echo=typer.echo)


@app.command("realtime")
def bench_realtime(
    samples: Annotated[int, typer.Option(min=10, help="Events committed one at a time.")] = 300,
    separate_worker: Annotated[
        bool, typer.Option(help="Relay in a pd-prime worker process instead of the server.")
    ] = False,
) -> None:
    """Commit-to-WebSocket latency of live updates (p50, p99) through a real server."""
    from pd_prime_demo.bench.live import run_realtime_benchmark

    run_realtime_benchmark(samples=samples, separate_worker=separate_worker, echo=typer.echo)


@app.command("import")
def bench_import(
    policies: Annotated[int, typer.Option(min=1, help="Policies in the synthetic book.")] = 10_000,
    fmt: Annotated[str, typer.Option("--format", help="json or csv.")] = "json",
    chunk: Annotated[
        int, typer.Option(min=1, max=10_000, help="Policies per database transaction.")
    ] = 1000,
) -> None:
    """Convert a synthetic book: policies and transactions a second, CPU, peak memory."""
    from pd_prime_demo.bench.imports import run_import_benchmark

    if fmt not in ("json", "csv"):
        raise typer.BadParameter("--format must be json or csv")
    run_import_benchmark(policies=policies, fmt=fmt, chunk=chunk, echo=typer.echo)


@app.command("claims")
def bench_claims(
    transactions: Annotated[
        int, typer.Option(min=10, help="Claim transactions to generate (ten a claim).")
    ] = 1_000_000,
    mack_runs: Annotated[int, typer.Option(min=1, help="Mack runs to average.")] = 200,
) -> None:
    """Paid and incurred triangles built from N claim transactions (one aggregate query each)
    and a Mack run on the 10x10 triangle: wall time and CPU."""
    from pd_prime_demo.bench.claims import run_claims_benchmark

    run_claims_benchmark(transactions=transactions, mack_runs=mack_runs, echo=typer.echo)


@app.command("fnol")
def bench_fnol(
    seconds: Annotated[float, typer.Option(help="Seconds of load per endpoint.")] = 10,
    concurrency: Annotated[int, typer.Option(help="Concurrent clients.")] = 16,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
    callgrind: Annotated[
        bool,
        typer.Option(
            help="Run the server under valgrind's callgrind and print the instructions it "
            "executes per request (see bench api --callgrind)."
        ),
    ] = False,
) -> None:
    """First notice of loss through the real server beside a bare endpoint doing the same
    writes (raw SQL) and an echo of the same body."""
    from pd_prime_demo.bench.api import SetupError
    from pd_prime_demo.bench.fnol import run_fnol_benchmark

    try:
        run_fnol_benchmark(
            seconds=seconds,
            concurrency=concurrency,
            workers=workers,
            callgrind=callgrind,
            echo=typer.echo,
        )
    except SetupError as error:
        raise typer.BadParameter(str(error)) from error


@app.command("documents")
def bench_documents(
    pages: Annotated[int, typer.Option(min=1, help="Documents drawn per case.")] = 100,
) -> None:
    """Documents per second, CPU ms and bytes per document for every shipped kind, the first
    (cold) page, and a page in Arabic, CJK and Vietnamese."""
    from pd_prime_demo.bench.documents import run

    run(pages=pages, echo=typer.echo)


@app.command("audit")
def bench_audit(
    entries: Annotated[int, typer.Option(min=1000, help="Chained audit entries to generate.")] = (
        1_000_000
    ),
    parallel: Annotated[int, typer.Option(min=1, help="Processes of the parallel walk.")] = 2,
) -> None:
    """Verifying N audit entries: the ORM loop of before, the raw walk with one process and
    with --parallel, and dropping an expired monthly partition."""
    from pd_prime_demo.bench.audit import run_audit_benchmark

    run_audit_benchmark(entries=entries, parallel=parallel, echo=typer.echo)


def _sizes(policies: list[int] | None, sizes: str | None) -> list[int]:
    found = list(policies or [])
    if sizes:
        found += [int(s.replace("_", "")) for s in sizes.split(",") if s.strip()]
    if not found or any(n < 1 for n in found):
        raise typer.BadParameter("give --policies N (repeatable) or --sizes N,M, each above 0")
    return sorted(set(found))


@app.command("book")
def bench_book(
    policies: Annotated[
        list[int] | None, typer.Option(help="Policies in the book (repeat for several sizes).")
    ] = None,
    sizes: Annotated[str | None, typer.Option(help="Several sizes: 10000,100000.")] = None,
    days: Annotated[int, typer.Option(min=1, help="Simulated days of daily jobs.")] = 30,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes a day.")] = 1,
    import_processes: Annotated[
        int, typer.Option(min=1, help="Book shards written and imported at once.")
    ] = 2,
    samples: Annotated[int, typer.Option(min=10, help="Policies read per request kind.")] = 200,
    keep: Annotated[bool, typer.Option(help="Keep each size's scratch database.")] = False,
    reuse: Annotated[
        str | None, typer.Option(help="A kept scratch database: only its read side again.")
    ] = None,
    reuse_dir: Annotated[
        Path | None, typer.Option(help="The kept database's directory (its keys).")
    ] = None,
) -> None:
    """A carrier-sized book: build it through the import, run a month of daily jobs and the
    read side, print time, CPU, rows and peak memory per phase and the issue-19 targets."""
    from pd_prime_demo.bench.book_bench import run_book_benchmark

    run_book_benchmark(
        sizes=_sizes(policies, sizes),
        days=days,
        workers=workers,
        shards=import_processes,
        samples=samples,
        keep=keep,
        echo=typer.echo,
        reuse=(reuse, reuse_dir) if reuse and reuse_dir else None,
    )
