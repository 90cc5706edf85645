"""``pd-prime worker``: the daily jobs, safe to run on many machines at once.

Each job is an idempotent sweep (running it twice for a day changes nothing the second time)
and runs in its own transaction under a PostgreSQL advisory lock, so two workers never run the
same job concurrently. A cron-style deployment can call ``pd-prime worker --once``.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.database import Database
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.policies import service as policies
from pd_prime_demo.quotes import service as quotes

log = structlog.get_logger(__name__)


async def _expire_quotes(session: AsyncSession) -> object:
    return await quotes.expire_due(session)


async def _billing(session: AsyncSession) -> object:
    match await billing.run_billing(
        session, on=clock.today(), cancel_policy=policies.cancel_for_non_payment
    ):
        case Ok(run):
            return {
                "invoiced": run.invoiced,
                "notices": run.notices,
                "cancellations": run.cancellations,
                "skipped": [f"{s.policy_number}: {s.code}" for s in run.skipped],
            }
        case Err(error):
            raise RuntimeError(error.detail)
    raise AssertionError("unreachable")  # pragma: no cover


async def _earn(session: AsyncSession) -> object:
    match await billing.post_earned(session, through=clock.today() - timedelta(days=1)):
        case Ok(posted):
            return posted
        case Err(error):
            raise RuntimeError(error.detail)
    raise AssertionError("unreachable")  # pragma: no cover


async def _documents(session: AsyncSession) -> object:
    return await policies.render_pending(session)


JOBS: dict[str, Callable[[AsyncSession], Awaitable[object]]] = {
    "quotes.expire": _expire_quotes,
    "renewals.offer": policies.offer_due,
    "renewals.lapse": policies.lapse_due,
    "billing.run": _billing,
    "ledger.earn": _earn,
    "documents.render": _documents,
}


async def run_jobs(db: Database) -> dict[str, object]:
    """Run every job once; a job another worker holds is skipped, not waited for."""
    results: dict[str, object] = {}
    for name, job in JOBS.items():
        async with db.unit_of_work() as session:
            if not await locks.try_lock(session, f"job:{name}"):
                results[name] = "skipped: running elsewhere"
                continue
            results[name] = await job(session)
        log.info("worker.job_done", job=name, result=str(results[name]))
    return results


async def run_forever(db: Database, *, interval_seconds: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    while not stop.is_set():
        try:
            await run_jobs(db)
        except Exception:  # one bad run must not stop the worker; it retries next round
            log.exception("worker.run_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
