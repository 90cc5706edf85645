"""``pd-prime bench jobs``: the job queue's throughput with one and two worker processes, and
the outbox relay's rate, on a throwaway database.

The jobs are empty (each commits nothing of its own), so the figures are the queue's own cost
per job: fetching it (``FOR UPDATE SKIP LOCKED``), running it and recording its end. Each worker
is a process of its own, as ``pd-prime worker`` processes are; the two-worker run shows how the
queue scales out on this machine's cores.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

import procrastinate
from procrastinate.types import JSONValue

from pd_prime_demo import bootstrap
from pd_prime_demo.core.database import Database, create_database, drop_database
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.queue import JobQueue, add_blueprint
from pd_prime_demo.events.relay import Route, relay_pending

bench_jobs = procrastinate.Blueprint()


@bench_jobs.task(name="noop", queue="bench")
async def noop(n: int) -> None:
    """Nothing: the queue's own cost per job."""


def _work(url: str, concurrency: int) -> None:
    """One worker process: work the bench queue until it is empty."""

    async def run() -> None:
        queue = JobQueue(url)
        add_blueprint(queue.app, bench_jobs, "bench")
        await queue.ready()
        try:
            await queue.app.run_worker_async(
                queues=["bench"], wait=False, concurrency=concurrency, install_signal_handlers=False
            )
        finally:
            await queue.close()

    asyncio.run(run())


@dataclass(frozen=True, slots=True)
class QueueRun:
    workers: int
    jobs: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.jobs / self.seconds

    @property
    def cpu_ms_per_job(self) -> float:
        return self.cpu_seconds * 1000 / self.jobs


async def _defer(url: str, jobs: int) -> None:
    queue = JobQueue(url)
    add_blueprint(queue.app, bench_jobs, "bench")
    await queue.ready()
    try:
        task = queue.app.tasks["bench:noop"]
        for start in range(0, jobs, 1000):
            batch: list[dict[str, JSONValue]] = [
                {"n": n} for n in range(start, min(jobs, start + 1000))
            ]
            await task.batch_defer_async(*batch)
    finally:
        await queue.close()


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _queue_run(url: str, *, jobs: int, workers: int, concurrency: int) -> QueueRun:
    asyncio.run(_defer(url, jobs))
    context = multiprocessing.get_context("spawn")
    cpu_before = _children_cpu()
    started = time.perf_counter()
    processes = [context.Process(target=_work, args=(url, concurrency)) for _ in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    return QueueRun(workers, jobs, elapsed, _children_cpu() - cpu_before)


async def _relay_rate(url: str, events: int) -> tuple[float, float]:
    """Events per second the relay publishes (numbering them and deferring one job each)."""
    db = Database.connect(url, pool_size=2, max_overflow=0)
    queue = JobQueue(url)
    add_blueprint(queue.app, bench_jobs, "bench")
    await queue.ready()
    try:
        for start in range(0, events, 1000):
            async with db.unit_of_work() as session:
                for n in range(start, min(events, start + 1000)):
                    emit(session, "bench.event", "bench", str(n))
        cpu = time.process_time()
        started = time.perf_counter()
        published = await relay_pending(db, queue.app, (Route("bench.*", "bench:noop"),))
        elapsed = time.perf_counter() - started
        assert published == events
        return published / elapsed, (time.process_time() - cpu) * 1000 / events
    finally:
        await queue.close()
        await db.dispose()


def run_jobs_benchmark(
    *, jobs: int = 5000, concurrency: int = 8, echo: Callable[[str], None] = print
) -> dict[str, float]:
    base = bootstrap.settings(demo=True)
    assert base.database_url is not None
    scratch = asyncio.run(create_database(base.database_url, f"pd_prime_bench_jobs_{os.getpid()}"))
    settings = base.model_copy(update={"database_url": scratch})
    try:
        bootstrap.migrate(settings)
        echo(f"job queue: {jobs} empty jobs, {concurrency} at a time per worker process")
        runs = [
            _queue_run(scratch, jobs=jobs, workers=workers, concurrency=concurrency)
            for workers in (1, 2)
        ]
        for run in runs:
            echo(
                f"  {run.workers} worker{'s' if run.workers > 1 else ' '}: {run.rate:8.0f} jobs/s "
                f"({run.seconds:.2f} s; {run.cpu_ms_per_job:.2f} ms worker CPU per job)"
            )
        echo(f"  2 workers / 1 worker throughput: {runs[1].rate / runs[0].rate:.2f}x")
        rate, cpu_ms = asyncio.run(_relay_rate(scratch, jobs))
        echo(f"outbox relay: {rate:8.0f} events/s published and routed ({cpu_ms:.3f} ms CPU each)")
        return {
            "1 worker": runs[0].rate,
            "2 workers": runs[1].rate,
            "relay": rate,
        }
    finally:
        asyncio.run(drop_database(base.database_url, scratch))
