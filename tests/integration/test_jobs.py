"""The job queue against a database that really commits: pages drawn after commit, nothing for
a rolled-back change, retries on a schedule into a dead letter, the admin view, and periodic
sweeps deferred once per period whatever the number of workers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import procrastinate
from croniter import croniter  # type: ignore[import-untyped]
from httpx import ASGITransport, AsyncClient
from procrastinate.periodic import PeriodicDeferrer
from sqlalchemy import text

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.queue import STANDARD, JobQueue, add_blueprint
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.events.relay import relay_pending
from pd_prime_demo.main import create_app
from pd_prime_demo.worker import ROUTES, SWEEPS, queue_app, run_worker, sweeps
from tests.factories import auto_quote, person, user_login


async def _scalar(runtime: Runtime, sql: str, **params: Any) -> Any:
    async with runtime.db.sessionmaker() as session:
        return await session.scalar(text(sql), params)


async def _status(runtime: Runtime, job_id: int) -> str:
    return str(
        await _scalar(
            runtime, "SELECT status::text FROM procrastinate_jobs WHERE id = :id", id=job_id
        )
    )


async def _work(runtime: Runtime) -> None:
    """One worker round: relay what committed, then run every job that is due."""
    await run_worker(runtime, wait=False, install_signal_handlers=False)


async def _bound_policy(client: AsyncClient, runtime: Runtime) -> tuple[dict[str, str], str]:
    agent = await user_login(client, runtime, Role.AGENT)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind", json={"option": "standard"}, headers=agent.headers
    )
    assert bound.status_code == 201, bound.text
    return agent.headers, bound.json()["id"]


async def test_a_bound_policy_gets_its_page_from_the_worker_after_commit(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    async with AsyncClient(
        transport=ASGITransport(app=create_app(runtime=runtime)), base_url="http://t"
    ) as client:
        headers, policy_id = await _bound_policy(client, runtime)
        docs = (await client.get(f"/api/v1/policies/{policy_id}/documents", headers=headers)).json()
        (page,) = docs["items"]
        assert page["status"] == "pending"
        assert page["sha256"] is None
        pending = await client.get(f"/api/v1/documents/{page['id']}", headers=headers)
        assert pending.status_code == 202
        assert int(pending.headers["retry-after"]) > 0

        await _work(runtime)

        ready = await client.get(f"/api/v1/documents/{page['id']}", headers=headers)
        assert ready.status_code == 200
        assert ready.content.startswith(b"%PDF")
        # (The worker's first round also ran the sweeps: billing invoiced the first installment.)
        (page,) = [
            d
            for d in (
                await client.get(f"/api/v1/policies/{policy_id}/documents", headers=headers)
            ).json()["items"]
            if d["kind"] == "declarations"
        ]
        assert page["status"] == "ready"
        assert ready.headers["etag"] == f'"{page["sha256"]}"'
    # The request published the page's event; the relay gave it a position and a job.
    assert (
        await _scalar(
            runtime,
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'documents:render' "
            "AND status = 'succeeded' AND args->>'aggregate_id' = :doc",
            doc=page["id"],
        )
        == 1
    )
    topics = await _scalar(
        runtime,
        "SELECT array_agg(topic ORDER BY position) FROM outbox_events "
        "WHERE aggregate_id = :doc AND position IS NOT NULL",
        doc=page["id"],
    )
    assert topics == ["document.requested", "document.ready"]


async def test_a_rolled_back_change_publishes_nothing_and_defers_nothing(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    app = queue_app(runtime)
    await runtime.queue.ready()
    seeded = await relay_pending(runtime.db, app, ROUTES)  # the products' events
    assert seeded > 0
    before = await _scalar(runtime, "SELECT count(*) FROM procrastinate_jobs")
    try:
        async with runtime.db.unit_of_work() as session:
            emit(session, "document.requested", "document", "00000000-0000-0000-0000-000000000001")
            await session.flush()
            raise RuntimeError("the change fails after its event was recorded")
    except RuntimeError:
        pass
    assert await relay_pending(runtime.db, app, ROUTES) == 0
    assert await _scalar(runtime, "SELECT count(*) FROM outbox_events") == seeded
    assert await _scalar(runtime, "SELECT count(*) FROM procrastinate_jobs") == before
    # A committed one is published once, however many relay rounds run.
    async with runtime.db.unit_of_work() as session:
        emit(session, "quote.created", "quote", "q-1")
    assert await relay_pending(runtime.db, app, ROUTES) == 1
    assert await relay_pending(runtime.db, app, ROUTES) == 0
    assert (
        await _scalar(runtime, "SELECT position FROM outbox_events WHERE aggregate_id = 'q-1'")
        == seeded + 1
    )


async def _make_page_unrenderable(runtime: Runtime, document_id: str) -> Any:
    async with runtime.db.unit_of_work() as session:
        facts = await session.scalar(
            text("SELECT facts FROM documents WHERE id = :id"), {"id": document_id}
        )
        await session.execute(
            text("UPDATE documents SET facts = '{}' WHERE id = :id"), {"id": document_id}
        )
    return facts


async def _due_now(runtime: Runtime, job_id: int) -> None:
    """Time passes until the job's retry is due."""
    async with runtime.db.unit_of_work() as session:
        await session.execute(
            text("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = :id"),
            {"id": job_id},
        )


async def test_a_failing_job_is_retried_on_its_schedule_then_dead_lettered_and_an_admin_retries_it(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    async with AsyncClient(
        transport=ASGITransport(app=create_app(runtime=runtime)), base_url="http://t"
    ) as client:
        headers, policy_id = await _bound_policy(client, runtime)
        (page,) = (
            await client.get(f"/api/v1/policies/{policy_id}/documents", headers=headers)
        ).json()["items"]
        facts = await _make_page_unrenderable(runtime, page["id"])

        await _work(runtime)
        job_id = await _scalar(
            runtime,
            "SELECT id FROM procrastinate_jobs WHERE task_name = 'documents:render' "
            "AND args->>'aggregate_id' = :doc",
            doc=page["id"],
        )
        # Failed once: waiting for its retry 5 s later, its error kept, the page still pending.
        async with runtime.db.sessionmaker() as session:
            status, attempts, delay = (
                await session.execute(
                    text(
                        "SELECT status::text, attempts, "
                        "extract(epoch FROM scheduled_at - now()) FROM procrastinate_jobs "
                        "WHERE id = :id"
                    ),
                    {"id": job_id},
                )
            ).one()
        assert (status, attempts) == ("todo", 1)
        assert 0 < delay <= STANDARD.schedule[0]
        assert "ValidationError" in await _scalar(
            runtime, "SELECT error FROM job_errors WHERE job_id = :id", id=job_id
        )
        assert (
            await client.get(f"/api/v1/documents/{page['id']}", headers=headers)
        ).status_code == 202

        for _ in STANDARD.schedule:
            await _due_now(runtime, job_id)
            await _work(runtime)
        assert await _status(runtime, job_id) == "failed"
        assert (
            await _scalar(runtime, "SELECT attempts FROM job_errors WHERE job_id = :id", id=job_id)
            == STANDARD.max_attempts
        )
        failed = await client.get(f"/api/v1/documents/{page['id']}", headers=headers)
        assert failed.status_code == 409
        assert failed.json()["code"] == "document.failed"
        listed = (
            await client.get(f"/api/v1/policies/{policy_id}/documents", headers=headers)
        ).json()["items"]
        assert {d["id"]: d["status"] for d in listed}[page["id"]] == "failed"

        admin = await user_login(client, runtime, Role.ADMIN)
        assert (await client.get("/api/v1/admin/jobs", headers=headers)).status_code == 403
        dead = (await client.get("/api/v1/admin/jobs?status=failed", headers=admin.headers)).json()
        (letter,) = dead["items"]
        assert letter["id"] == job_id
        assert letter["task"] == "documents:render"
        assert "ValidationError" in letter["error"]
        summary = (await client.get("/api/v1/admin/jobs/summary", headers=admin.headers)).json()
        assert "tasks" in summary, summary
        assert {"task": "documents:render", "todo": 0, "doing": 0, "failed": 1} in summary["tasks"]

        # The cause is fixed; the administrator retries the dead letter and the page is drawn.
        async with runtime.db.unit_of_work() as session:
            await session.execute(
                text("UPDATE documents SET facts = CAST(:facts AS jsonb) WHERE id = :id"),
                {"facts": json.dumps(facts), "id": page["id"]},
            )
        retried = await client.post(f"/api/v1/admin/jobs/{job_id}/retry", headers=admin.headers)
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "todo"
        again = await client.post(f"/api/v1/admin/jobs/{job_id}/retry", headers=admin.headers)
        assert again.status_code == 409
        assert again.json()["code"] == "job.not_failed"
        await _work(runtime)
        assert (
            await client.get(f"/api/v1/documents/{page['id']}", headers=headers)
        ).status_code == 200
        history = (await client.get(f"/api/v1/admin/jobs/{job_id}", headers=admin.headers)).json()
        assert history["status"] == "succeeded"
        moves = [e["type"] for e in history["history"]]
        assert moves.count("deferred_for_retry") == len(STANDARD.schedule)
        assert moves.count("retried") == 1
        assert moves[-1] == "succeeded"
        audited = await _scalar(
            runtime,
            "SELECT count(*) FROM audit_log WHERE action = 'job.retried' AND resource_id = :id",
            id=str(job_id),
        )
        assert audited == 1


async def test_an_admin_cancels_a_waiting_job_only(committed_runtime: Runtime) -> None:
    runtime = committed_runtime
    app = queue_app(runtime)
    await runtime.queue.ready()
    waiting = await app.configure_task(
        "sweeps:quotes.expire", schedule_in={"hours": 1}
    ).defer_async(timestamp=0)
    async with AsyncClient(
        transport=ASGITransport(app=create_app(runtime=runtime)), base_url="http://t"
    ) as client:
        admin = await user_login(client, runtime, Role.ADMIN)
        cancelled = await client.post(
            f"/api/v1/admin/jobs/{waiting}/cancellation", headers=admin.headers
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["status"] == "cancelled"
        twice = await client.post(
            f"/api/v1/admin/jobs/{waiting}/cancellation", headers=admin.headers
        )
        assert twice.status_code == 409
        assert twice.json()["code"] == "job.not_waiting"
        unknown = await client.post("/api/v1/admin/jobs/999999/cancellation", headers=admin.headers)
        assert unknown.status_code == 404
        bad = await client.get("/api/v1/admin/jobs?status=lost", headers=admin.headers)
        assert bad.status_code == 422
    await _work(runtime)
    assert await _status(runtime, waiting) == "cancelled"


async def test_each_sweep_is_deferred_once_per_period_whatever_the_number_of_workers(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    first = queue_app(runtime)
    await runtime.queue.ready()
    # A second worker process: its own queue app on the same database.
    other = JobQueue(runtime.db.url)
    try:
        second = other.app
        add_blueprint(second, sweeps, "sweeps")
        for name in SWEEPS:
            second.periodic(cron=runtime.settings.periodic_cron, periodic_id=name)(
                second.tasks[f"sweeps:{name}"]
            )
        await other.ready()
        # Workers start after downtime that spanned the last period (00:15 UTC): each defers
        # that missed period, and the queue keeps one job per sweep and period. The sweep then
        # catches up on every day it missed, since it handles all that is due up to today.
        now = time.time()
        for app in (first, second, first):
            deferrer = PeriodicDeferrer(registry=app.periodic_registry, **app.periodic_defaults)
            await deferrer.defer_jobs(deferrer.get_previous_tasks(at=now))
    finally:
        await other.close()
    names = [f"sweeps:{name}" for name in SWEEPS]
    deferred = await _scalar(
        runtime,
        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = ANY(:names)",
        names=names,
    )
    assert deferred == len(SWEEPS)
    periods = await _scalar(
        runtime,
        "SELECT array_agg(DISTINCT defer_timestamp) FROM procrastinate_periodic_defers "
        "WHERE task_name = ANY(:names)",
        names=names,
    )
    missed = croniter(runtime.settings.periodic_cron, now).get_prev(float)
    assert periods == [int(missed)]
    await _work(runtime)
    assert await _scalar(
        runtime,
        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = ANY(:names) "
        "AND status = 'succeeded'",
        names=names,
    ) == len(SWEEPS)


async def test_finished_jobs_are_pruned_after_their_retention_and_dead_letters_kept(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    app = queue_app(runtime)
    await runtime.queue.ready()
    await _work(runtime)  # the seeded products' events fan out; the sweeps run
    finished = await _scalar(
        runtime, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'succeeded'"
    )
    assert finished > 0
    async with runtime.db.unit_of_work() as session:
        # One dead letter, and every job finished longer ago than the retention.
        await session.execute(
            text(
                "UPDATE procrastinate_jobs SET status = 'failed' WHERE id = "
                "(SELECT min(id) FROM procrastinate_jobs)"
            )
        )
        await session.execute(
            text("UPDATE procrastinate_events SET at = at - make_interval(days => :days)"),
            {"days": runtime.settings.jobs_retention_days + 1},
        )
    done = await _scalar(
        runtime, "SELECT array_agg(id) FROM procrastinate_jobs WHERE status = 'succeeded'"
    )
    dead = await _scalar(runtime, "SELECT id FROM procrastinate_jobs WHERE status = 'failed'")
    await app.configure_task("sweeps:queue.prune").defer_async(timestamp=0)
    await _work(runtime)
    # The jobs finished long ago are gone; the dead letter is kept.
    assert (
        await _scalar(
            runtime, "SELECT count(*) FROM procrastinate_jobs WHERE id = ANY(:done)", done=done
        )
        == 0
    )
    assert await _status(runtime, dead) == "failed"


async def test_webhook_deliveries_that_hang_never_hold_up_pages(
    committed_runtime: Runtime,
) -> None:
    """Webhooks have a lane of their own: every webhook slot stuck on a receiver that never
    answers, a page is still drawn at once."""
    runtime = committed_runtime
    runtime.settings = runtime.settings.model_copy(
        update={"worker_concurrency": 1, "webhook_concurrency": 2}
    )
    release = asyncio.Event()
    started = 0
    stuck = procrastinate.Blueprint()

    @stuck.task(name="hang", queue="webhooks")
    async def hang() -> None:
        nonlocal started
        started += 1
        await release.wait()

    app = queue_app(runtime)
    add_blueprint(app, stuck, "test")
    await runtime.queue.ready()
    for _ in range(5):
        await app.configure_task("test:hang").defer_async()
    async with AsyncClient(
        transport=ASGITransport(app=create_app(runtime=runtime)), base_url="http://t"
    ) as client:
        headers, policy_id = await _bound_policy(client, runtime)
        worker = asyncio.create_task(run_worker(runtime, install_signal_handlers=False))
        try:
            async with asyncio.timeout(30):
                while True:
                    docs = (
                        await client.get(f"/api/v1/policies/{policy_id}/documents", headers=headers)
                    ).json()["items"]
                    if docs and all(d["status"] == "ready" for d in docs):
                        break
                    await asyncio.sleep(0.2)
            assert started == 2  # both webhook slots still hang
        finally:
            release.set()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker


async def test_racing_retries_of_one_dead_letter_make_one_retry_and_never_a_500(
    committed_runtime: Runtime,
) -> None:
    runtime = committed_runtime
    app = queue_app(runtime)
    await runtime.queue.ready()
    sweep = app.configure_task("sweeps:billing.run")
    dead = await sweep.defer_async(timestamp=1)
    async with runtime.db.unit_of_work() as session:
        await session.execute(
            text("UPDATE procrastinate_jobs SET status = 'failed', attempts = 7 WHERE id = :id"),
            {"id": dead},
        )
    async with AsyncClient(
        transport=ASGITransport(app=create_app(runtime=runtime)), base_url="http://t"
    ) as client:
        admin = await user_login(client, runtime, Role.ADMIN)
        answers = await asyncio.gather(
            *(
                client.post(f"/api/v1/admin/jobs/{dead}/retry", headers=admin.headers)
                for _ in range(8)
            )
        )
        assert sorted(a.status_code for a in answers) == [200] + [409] * 7
        assert {a.json()["code"] for a in answers if a.status_code == 409} == {"job.not_failed"}
        audited = await _scalar(
            runtime,
            "SELECT count(*) FROM audit_log WHERE action = 'job.retried' AND resource_id = :id",
            id=str(dead),
        )
        assert audited == 1

        # A dead billing run retried while another billing run already waits would repeat it.
        async with runtime.db.unit_of_work() as session:
            await session.execute(
                text("UPDATE procrastinate_jobs SET status = 'failed' WHERE id = :id"),
                {"id": dead},
            )
        await sweep.defer_async(timestamp=2)
        refused = await client.post(f"/api/v1/admin/jobs/{dead}/retry", headers=admin.headers)
        assert refused.status_code == 409
        assert refused.json()["code"] == "job.already_waiting"
        assert (
            await _scalar(
                runtime,
                "SELECT count(*) FROM audit_log WHERE action = 'job.retried' AND resource_id = :id",
                id=str(dead),
            )
            == 1
        )


async def test_an_event_committed_late_is_published_after_those_committed_before_it(
    committed_runtime: Runtime,
) -> None:
    """A transaction holds its outbox row (the lower id) uncommitted while a later one commits
    and the relay publishes: the late event gets the next position, so a reader that saw the
    first publication misses nothing."""
    runtime = committed_runtime
    app = queue_app(runtime)
    await runtime.queue.ready()
    await relay_pending(runtime.db, app, ROUTES)  # the products' events
    insert = text(
        "INSERT INTO outbox_events (occurred_at, topic, aggregate_type, aggregate_id, payload) "
        "VALUES (now(), 'quote.created', 'quote', :key, '{}') RETURNING id"
    )
    async with runtime.db.engine.connect() as slow:
        early = await slow.scalar(insert, {"key": "written-first"})  # not committed yet
        async with runtime.db.unit_of_work() as session:
            late = await session.scalar(insert, {"key": "committed-first"})
        assert early < late
        assert await relay_pending(runtime.db, app, ROUTES) == 1
        head = await _scalar(runtime, "SELECT max(position) FROM outbox_events")
        await slow.commit()
    assert await relay_pending(runtime.db, app, ROUTES) == 1
    positions = await _scalar(
        runtime,
        "SELECT array_agg(aggregate_id ORDER BY position) FROM outbox_events "
        "WHERE position > :head - 1",
        head=head,
    )
    assert positions == ["committed-first", "written-first"]
