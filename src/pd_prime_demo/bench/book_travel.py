"""A process of ``bench book`` living on a simulated day: ``python -m
pd_prime_demo.bench.book_travel DAY cli ARGS...`` runs the ``pd-prime ARGS...`` command with the
clock on ``DAY`` (still running, so durations stay real); ``... DAY day`` runs that day's jobs
as ``pd-prime worker --once`` does (every sweep, then the relay and the queue until nothing is
due), timing each sweep apart, and prints the figures as one JSON line after ``MARK``;
``... DAY drain`` only works the queue (a second worker beside the first).

The clock is set before anything runs, so every task the command starts inherits it.
"""

from __future__ import annotations

import asyncio
import json
import runpy
import sys
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from pd_prime_demo.core import clock

MARK = "BOOK-BENCH "
_LEFT = text(
    "SELECT (SELECT count(*) FROM outbox_events WHERE published_at IS NULL) + "
    "(SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' "
    "AND (scheduled_at IS NULL OR scheduled_at <= now()))"
)


def _plain(result: object) -> object:
    """A sweep's result as JSON: its counts kept as numbers (the billing run's ``invoiced``)."""
    if isinstance(result, bool | int | float):
        return result
    if isinstance(result, dict):
        return {
            str(k): v if isinstance(v, int | float) else str(v)[:200] for k, v in result.items()
        }
    return str(result)[:300]


def _figures(started: float, cpu: float, result: object = None) -> dict[str, Any]:
    return {
        "wall": time.perf_counter() - started,
        "cpu": time.process_time() - cpu,
        "result": _plain(result),
    }


async def _day(sweeps: bool) -> dict[str, Any]:
    from pd_prime_demo import bootstrap
    from pd_prime_demo import worker as jobs
    from pd_prime_demo.core.runtime import Runtime
    from pd_prime_demo.main import create_app

    settings = bootstrap.settings()
    # As ``pd-prime worker`` builds its runtime.
    runtime = Runtime.create(settings.model_copy(update={"db_pool_size": 4, "db_max_overflow": 4}))
    runtime.routes = tuple(create_app(settings, runtime=runtime).routes)
    figures: dict[str, Any] = {}
    try:
        if sweeps:
            for name, sweep in jobs.SWEEPS.items():
                started, cpu = time.perf_counter(), time.process_time()
                result = await jobs.run_one(runtime, name, sweep)
                figures[name] = _figures(started, cpu, result)
        started, cpu = time.perf_counter(), time.process_time()
        rounds = 0
        while rounds < 20:  # as ``worker.run_once``: until a round leaves nothing due
            rounds += 1
            await jobs.run_worker(runtime, wait=False, install_signal_handlers=False)
            async with runtime.db.unit_of_work() as session:
                if not await session.scalar(_LEFT):
                    break
        figures["queue"] = _figures(started, cpu, f"{rounds} rounds")
    finally:
        await runtime.close()
    return figures


def main(argv: list[str]) -> None:
    day, mode, rest = date.fromisoformat(argv[0]), argv[1], argv[2:]
    with clock.shifted(timedelta(days=(day - clock.today()).days)):
        if mode == "cli":
            # Run as the ``pd-prime`` entry point (not imported: the CLI imports the benches).
            sys.argv = ["pd-prime", *rest]
            runpy.run_module("pd_prime_demo.cli", run_name="__main__", alter_sys=True)
            return
        figures = asyncio.run(_day(sweeps=mode == "day"))
    print(MARK + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
