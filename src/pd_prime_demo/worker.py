"""``pd-prime worker``: the job queue's worker, the outbox relay and the periodic sweeps.

Run as many as you like, on as many machines: each takes jobs from the queue (procrastinate on
PostgreSQL, ``core.queue``), each runs a relay (one relay transaction at a time, whichever
worker), and each periodic sweep is deferred once per period whatever the number of workers.
A sweep (quote expiry, renewal offers and lapses, the billing run, earned premium) handles
everything due up to today, so after downtime the one late run the queue defers catches up on
every missed day, and running one twice changes nothing the second time. ``pd-prime worker
--once`` runs the sweeps, relays and drains the queue, then exits (for a cron deployment).

This module wires the domains' jobs together (routes from event types to tasks, ports between
domains), as ``main`` wires their routers.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from datetime import timedelta

import procrastinate
import structlog
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


SWEEPS: dict[str, Callable[[AsyncSession], Awaitable[object]]] = {
    "quotes.expire": _expire_quotes,
    "renewals.offer": policies.offer_due,
    "renewals.lapse": policies.lapse_due,
    "billing.run": _billing,
    "ledger.earn": _earn,
}

sweeps = procrastinate.Blueprint()


def _sweep_task(name: str, sweep: Callable[[AsyncSession], Awaitable[object]]) -> None:
    async def run_sweep(context: JobContext, timestamp: int) -> None:
        result = await run_one(runtime_of(context), name, sweep)
        log.info("worker.sweep_done", sweep=name, period=timestamp, result=str(result))

    # lock: two runs of one sweep never overlap; queueing_lock: at most one waits to run.
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


async def run_one(
    runtime: Runtime, name: str, sweep: Callable[[AsyncSession], Awaitable[object]]
) -> object:
    """One sweep in its own transaction, under an advisory lock: a second caller (a cron
    ``--once`` beside the queue's run) skips rather than waits."""
    async with runtime.db.unit_of_work() as session:
        if not await locks.try_lock(session, f"job:{name}"):
            return "skipped: running elsewhere"
        return await sweep(session)


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
    """Every sweep once, then the relay and the queue until nothing is due (cron deployments,
    tests). A worker that finds the queue empty stops, even while its other jobs defer more
    (a page drawn publishes ``document.ready``, which fans out), so rounds repeat until a round
    leaves nothing due."""
    results = {name: await run_one(runtime, name, sweep) for name, sweep in SWEEPS.items()}
    for name, result in results.items():
        log.info("worker.sweep_done", sweep=name, result=str(result))
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
