"""``pd-prime worker``: the job queue's worker, the outbox relay and the periodic sweeps.

Run as many as you like, on as many machines: each takes jobs from the queue (procrastinate on
PostgreSQL, ``core.queue``), each runs a relay (one relay transaction at a time, whichever
worker), and each periodic sweep is deferred once per period whatever the number of workers.
A sweep (quote expiry, renewal offers and lapses, the billing run, earned premium) handles
everything due up to today, so after downtime the one late run the queue defers catches up on
every missed day, and running one twice changes nothing the second time. ``pd-prime worker
--once`` runs the sweeps, relays and drains the queue, then exits (for a cron deployment).

A sweep is set-based and chunked (:class:`Sweep`): its periodic job only plans, paging through
what is due by keyset (ids in index order, ``sweep_chunk_size`` a page) and deferring a chunk
job (``sweeps:chunk``) for each page or range; every worker on the queue takes chunks, each in
a transaction of its own. A crash loses at most the chunk it was doing, which the queue
retries; each item is re-checked under its row lock, so a chunk done twice, or a day planned
twice, changes nothing the second time.

This module wires the domains' jobs together (routes from event types to tasks, ports between
domains), as ``main`` wires their routers.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import procrastinate
import structlog
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.job_context import JobContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import jobs as audit_jobs
from pd_prime_demo.billing import service as billing
from pd_prime_demo.compliance import jobs as compliance_jobs
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.job_telemetry import job_telemetry
from pd_prime_demo.core.queue import STANDARD, add_blueprint, conninfo, record_errors
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.core.runtime import Runtime, runtime_of
from pd_prime_demo.core.telemetry import JOB_RUNS
from pd_prime_demo.documents import jobs as documents_jobs
from pd_prime_demo.events.relay import Route, relay_pending, run_relay
from pd_prime_demo.identity import jobs as identity_jobs
from pd_prime_demo.operations import jobs as operations_jobs
from pd_prime_demo.policies import service as policies
from pd_prime_demo.privacy import jobs as privacy_jobs
from pd_prime_demo.privacy.service import holds as privacy_holds
from pd_prime_demo.quotes import service as quotes
from pd_prime_demo.webhooks import jobs as webhooks_jobs

log = structlog.get_logger(__name__)

# Which task each published event goes to (besides live updates, which read the stream).
ROUTES: tuple[Route, ...] = (
    Route("document.requested", "documents:render"),
    Route("*", "webhooks:fan_out"),
)


# What one chunk job of a sweep is given: JSON (dates and ids as strings).
ChunkArgs = dict[str, Any]
Plan = Callable[[AsyncSession, date, int], AsyncIterator[tuple[str, ChunkArgs]]]


@dataclass(frozen=True, slots=True)
class Sweep:
    """A daily sweep, set-based and chunked: ``plan`` pages through what is due with keyset
    queries (keys only, ``size`` a page, never the book) and yields each chunk's key and
    arguments; ``chunk`` does one chunk in a transaction of its own, re-checking each item's
    state under its row lock, so a chunk re-done (a retry, a second plan) does nothing twice."""

    plan: Plan
    chunk: Callable[[AsyncSession, ChunkArgs], Awaitable[object]]


async def _keyed_pages(
    page: Callable[[tuple[date, uuid.UUID] | None], Awaitable[list[tuple[date, uuid.UUID]]]],
    day: date,
    field: str,
) -> AsyncIterator[tuple[str, ChunkArgs]]:
    """Chunks of the ids of (date, id) keyset pages: a page a chunk, in index order."""
    after: tuple[date, uuid.UUID] | None = None
    while keys := await page(after):
        ids = list(dict.fromkeys(str(key[1]) for key in keys))  # one policy's terms share one
        yield ids[0], {"day": day.isoformat(), field: ids}
        after = keys[-1]


def _plan_expiry(
    session: AsyncSession, today: date, size: int
) -> AsyncIterator[tuple[str, ChunkArgs]]:
    async def page(after: tuple[date, uuid.UUID] | None) -> list[tuple[date, uuid.UUID]]:
        return await quotes.quotes_past_validity(session, today=today, after=after, limit=size)

    return _keyed_pages(page, today, "ids")


async def _expire_chunk(session: AsyncSession, args: ChunkArgs) -> object:
    ids = [uuid.UUID(i) for i in args["ids"]]
    return await quotes.expire_quotes(session, ids, today=date.fromisoformat(args["day"]))


def _plan_offers(
    session: AsyncSession, today: date, size: int
) -> AsyncIterator[tuple[str, ChunkArgs]]:
    async def page(after: tuple[date, uuid.UUID] | None) -> list[tuple[date, uuid.UUID]]:
        return await policies.renewal_candidates(session, today=today, after=after, limit=size)

    return _keyed_pages(page, today, "ids")


async def _offer_chunk(session: AsyncSession, args: ChunkArgs) -> object:
    ids = [uuid.UUID(i) for i in args["ids"]]
    return await policies.offer_renewals(session, ids, today=date.fromisoformat(args["day"]))


def _plan_lapses(
    session: AsyncSession, today: date, size: int
) -> AsyncIterator[tuple[str, ChunkArgs]]:
    async def page(after: tuple[date, uuid.UUID] | None) -> list[tuple[date, uuid.UUID]]:
        return await policies.offers_to_lapse(session, today=today, after=after, limit=size)

    return _keyed_pages(page, today, "ids")


async def _lapse_chunk(session: AsyncSession, args: ChunkArgs) -> object:
    ids = [uuid.UUID(i) for i in args["ids"]]
    return await policies.lapse_offers(session, ids, today=date.fromisoformat(args["day"]))


async def _plan_billing(
    session: AsyncSession, today: date, size: int
) -> AsyncIterator[tuple[str, ChunkArgs]]:
    # A range of accounts a chunk: each account's steps (cancellation, notice, invoice) stay
    # in one transaction, in that order.
    async for accounts in billing.account_ranges(session, size=size):
        after, upto = accounts.after, accounts.upto
        yield (
            str(after or "first"),
            {
                "day": today.isoformat(),
                "after": None if after is None else str(after),
                "upto": None if upto is None else str(upto),
            },
        )


async def _billing_chunk(session: AsyncSession, args: ChunkArgs) -> object:
    accounts = billing.AccountRange(
        after=None if args["after"] is None else uuid.UUID(args["after"]),
        upto=None if args["upto"] is None else uuid.UUID(args["upto"]),
    )
    match await billing.bill_accounts(
        session,
        on=date.fromisoformat(args["day"]),
        accounts=accounts,
        cancel_policy=policies.cancel_for_non_payment,
        lock_range=True,
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


async def _plan_earning(
    session: AsyncSession, today: date, size: int
) -> AsyncIterator[tuple[str, ChunkArgs]]:
    """One chunk for each (product, state) the earning posts in aggregate for (each group's
    journal and mark are its own, so any worker posts a group, in any order)."""
    through = (today - timedelta(days=1)).isoformat()
    for product_code, state in await billing.earning_groups(session):
        yield (
            f"{product_code}:{state}",
            {
                "through": through,
                "product_code": product_code,
                "state": state,
            },
        )


async def _earn_chunk(session: AsyncSession, args: ChunkArgs) -> object:
    match await billing.post_earned(
        session,
        through=date.fromisoformat(args["through"]),
        product_code=args["product_code"],
        state=args["state"],
    ):
        case Ok(posted):
            return posted
        case Err(error):
            raise RuntimeError(error.detail)
    raise AssertionError("unreachable")  # pragma: no cover


SWEEPS: dict[str, Sweep] = {
    "quotes.expire": Sweep(_plan_expiry, _expire_chunk),
    "renewals.offer": Sweep(_plan_offers, _offer_chunk),
    "renewals.lapse": Sweep(_plan_lapses, _lapse_chunk),
    "billing.run": Sweep(_plan_billing, _billing_chunk),
    "ledger.earn": Sweep(_plan_earning, _earn_chunk),
}
CHUNK_TASK = "sweeps:chunk"

sweeps = procrastinate.Blueprint()


def _sweep_task(name: str, sweep: Sweep) -> None:
    async def run_sweep(context: JobContext, timestamp: int) -> None:
        result = await run_one(runtime_of(context), name, sweep)
        log.info("worker.sweep_planned", sweep=name, period=timestamp, result=str(result))

    # lock: two plans of one sweep never overlap; queueing_lock: at most one waits to run.
    sweeps.task(
        name=name,
        pass_context=True,
        retry=STANDARD,
        queue="sweeps",
        lock=name,
        queueing_lock=name,
    )(run_sweep)


for _name, _sweep in SWEEPS.items():
    _sweep_task(_name, _sweep)


@sweeps.task(name="chunk", pass_context=True, retry=STANDARD, queue="sweeps")
async def run_chunk(context: JobContext, sweep: str, args: ChunkArgs) -> None:
    """One chunk of a sweep, in its own transaction: a failure rolls back only this chunk,
    which the queue retries (and a worker that died mid-chunk is found by its heartbeat)."""
    async with runtime_of(context).db.unit_of_work() as session:
        result = await SWEEPS[sweep].chunk(session, args)
    log.info("worker.chunk_done", sweep=sweep, result=str(result)[:500])


@sweeps.periodic(cron="45 3 * * *", periodic_id="queue.prune")
@sweeps.task(name="queue.prune", pass_context=True, queue="sweeps", lock="queue.prune")
async def prune_jobs(context: JobContext, timestamp: int) -> None:
    """Finished jobs are kept for ``jobs_retention_days`` (the admin view's history), then
    deleted with their errors; dead letters stay until an administrator retries them."""
    runtime = runtime_of(context)
    hours = runtime.settings.jobs_retention_days * 24
    await context.app.job_manager.delete_old_jobs(
        nb_hours=hours, include_cancelled=True, include_aborted=True
    )
    async with runtime.db.unit_of_work() as session:
        await session.execute(
            text(
                "DELETE FROM job_errors e WHERE NOT EXISTS "
                "(SELECT FROM procrastinate_jobs j WHERE j.id = e.job_id)"
            )
        )


async def run_one(runtime: Runtime, name: str, sweep: Sweep) -> object:
    """Plan one sweep: defer a chunk job for each chunk of what is due today, reading it a page
    at a time under an advisory lock (a second planner, a cron ``--once`` beside the queue's
    run, skips rather than waits). A chunk already waiting in the queue for the same day is not
    deferred again (its queueing lock); any worker on the queue then takes the chunks."""
    app = queue_app(runtime)
    await runtime.queue.ready()
    today, size = clock.today(), runtime.settings.sweep_chunk_size
    deferred = waiting = 0
    async with runtime.db.unit_of_work() as session:
        if not await locks.try_lock(session, f"job:{name}"):
            return "skipped: running elsewhere"
        async for key, args in sweep.plan(session, today, size):
            task = app.configure_task(
                CHUNK_TASK,
                # Two copies of one chunk never run at once; one waits in the queue at most.
                lock=f"{name}:{key}",
                queueing_lock=f"{name}:{today.isoformat()}:{key}",
            )
            try:
                await task.defer_async(sweep=name, args=args)
                deferred += 1
            except AlreadyEnqueued:
                waiting += 1
    return {"chunks": deferred, "already_waiting": waiting}


def queue_app(runtime: Runtime) -> procrastinate.App:
    """The runtime's queue with every domain's tasks and the periodic schedule on it."""
    app = runtime.queue.app
    # Audit retention keeps what concerns a record under a legal hold; privacy owns the holds.
    runtime.held_resources = privacy_holds.held_resources
    if "documents:render" not in app.tasks:
        add_blueprint(app, documents_jobs.blueprint, "documents")
        add_blueprint(app, webhooks_jobs.blueprint, "webhooks")
        add_blueprint(app, identity_jobs.blueprint, "identity")
        add_blueprint(app, sweeps, "sweeps")
        add_blueprint(app, operations_jobs.blueprint, "operations")
        add_blueprint(app, audit_jobs.blueprint, "audit")
        add_blueprint(app, compliance_jobs.blueprint, "compliance")
        add_blueprint(app, privacy_jobs.blueprint, "privacy")
        for name in SWEEPS:
            app.periodic(cron=runtime.settings.periodic_cron, periodic_id=name)(
                app.tasks[f"sweeps:{name}"]
            )
        app.periodic(
            cron=runtime.settings.integrity_check_cron, periodic_id=operations_jobs.INTEGRITY_TASK
        )(app.tasks[f"operations:{operations_jobs.INTEGRITY_TASK}"])
        for domain_jobs in (audit_jobs, compliance_jobs, privacy_jobs):
            domain_jobs.schedule(app, runtime.settings)
    # Every task's outcomes exported at 0 from the start: a task's first failure is then a rise
    # increase() sees, not a series appearing from nothing.
    for task in app.tasks.values():
        for outcome in JOB_OUTCOMES:
            JOB_RUNS.labels(task.name, outcome)
    return app


# Each lane is a worker loop with slots of its own, so webhook deliveries (each may wait up to
# its timeout on a receiver that never answers) can never hold up documents or the sweeps.
BUSINESS_QUEUES = ("documents", "sweeps", "default")
WEBHOOK_QUEUES = ("webhooks",)
# The outcomes ``core.job_telemetry`` counts a job attempt under.
JOB_OUTCOMES = ("succeeded", "failed", "retried")


async def run_worker(
    runtime: Runtime, *, wait: bool = True, install_signal_handlers: bool = True
) -> None:
    """Work the queue (and relay the outbox beside it) until stopped (SIGINT or SIGTERM, or
    the task cancelled), or, with ``wait=False``, until nothing is left to do."""
    app = queue_app(runtime)
    await runtime.queue.ready()
    relay = asyncio.create_task(
        run_relay(runtime.db, app, ROUTES, dsn=conninfo(runtime.db.url)), name="outbox-relay"
    )
    settings = runtime.settings
    lanes = [
        (BUSINESS_QUEUES, settings.worker_concurrency, "pd-prime"),
        (WEBHOOK_QUEUES, settings.webhook_concurrency, "pd-prime-webhooks"),
    ]
    stopped = asyncio.Event()
    try:
        if not wait:
            await relay_pending(runtime.db, app, ROUTES)
        work = asyncio.gather(
            *(
                app.run_worker_async(
                    queues=list(queues),
                    wait=wait,
                    concurrency=concurrency,
                    install_signal_handlers=False,
                    additional_context={"runtime": runtime},
                    worker_middleware=[job_telemetry, record_errors],
                    name=name,
                )
                for queues, concurrency, name in lanes
            )
        )
        if install_signal_handlers:
            loop = asyncio.get_running_loop()

            def stop() -> None:
                stopped.set()
                work.cancel()

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop)
        try:
            await work
        except asyncio.CancelledError:
            if not stopped.is_set():
                raise
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay


async def run_once(runtime: Runtime, *, max_rounds: int = 20) -> dict[str, object]:
    """Every sweep planned once, then the relay and the queue (the sweeps' chunks among its
    jobs) until nothing is due (cron deployments, tests). A worker that finds the queue empty
    stops, even while its other jobs defer more (a page drawn publishes ``document.ready``,
    which fans out), so rounds repeat until a round leaves nothing due."""
    results = {name: await run_one(runtime, name, sweep) for name, sweep in SWEEPS.items()}
    for name, result in results.items():
        log.info("worker.sweep_planned", sweep=name, result=str(result))
    for _ in range(max_rounds):
        await run_worker(runtime, wait=False, install_signal_handlers=False)
        async with runtime.db.unit_of_work() as session:
            unpublished = await session.scalar(_UNPUBLISHED)
            due = await session.scalar(_DUE)
        if not unpublished and not due:
            break
    return results


_UNPUBLISHED = text("SELECT count(*) FROM outbox_events WHERE published_at IS NULL")
_DUE = text(
    "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' "
    "AND (scheduled_at IS NULL OR scheduled_at <= now())"
)
