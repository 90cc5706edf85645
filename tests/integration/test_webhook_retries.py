"""Webhook retries against a real receiver: Svix's schedule into the dead letter, replays of
one delivery or of every failure since a moment, and an endpoint failing for days disabled
with its client told."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.webhooks import repository, service
from pd_prime_demo.webhooks.jobs import OVERDUE_AFTER, defer_deliveries
from pd_prime_demo.webhooks.rules import RETRY_DELAYS, DeliveryPolicy
from pd_prime_demo.worker import queue_app, run_worker
from tests.api.test_webhook_subscriptions import SUBSCRIPTIONS, bearer, register_client
from tests.factories import user_login
from tests.integration.test_webhooks import published_fan_out
from tests.integration.webhook_receiver import (
    Receiver,
    api,
    failing_subscription,
    fan_out_all,
    listening,
    quote_for_new_customer,
    rows,
    subscribe,
    work,
)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with listening() as found:
        yield found


async def test_a_failing_receiver_is_retried_on_the_schedule_then_failed_then_replayed(
    committed_runtime: Runtime, receiver: Receiver
) -> None:
    runtime = committed_runtime
    async with api(runtime) as client:
        agent, subscription = await failing_subscription(client, runtime, receiver)

        await work(runtime)

        ((delivery_id, attempted_at, next_at),) = await rows(
            runtime,
            "SELECT d.id, a.attempted_at, d.next_attempt_at FROM webhook_deliveries d "
            "JOIN webhook_attempts a ON a.delivery_id = d.id",
        )
        assert next_at - attempted_at == timedelta(seconds=5)
        ((scheduled_at,),) = await rows(
            runtime,
            "SELECT scheduled_at FROM procrastinate_jobs WHERE task_name = 'webhooks:deliver' "
            "AND status = 'todo' AND args->>'delivery_id' = :d",
            d=str(delivery_id),
        )
        assert abs(scheduled_at - next_at) < timedelta(seconds=2)

        # Each later attempt when it falls due (the clock travels there).
        for delay in (*RETRY_DELAYS[1:], None):
            with clock.frozen_at(next_at):
                assert await service.attempt(runtime, delivery_id) == delay
            if delay is not None:
                next_at += timedelta(seconds=delay)
        times = [
            t
            for (t,) in await rows(runtime, "SELECT attempted_at FROM webhook_attempts ORDER BY id")
        ]
        assert [int((b - a).total_seconds()) for a, b in itertools.pairwise(times)] == list(
            RETRY_DELAYS
        )
        url = f"{SUBSCRIPTIONS}/{subscription['id']}"
        failed = (await client.get(f"{url}/deliveries/{delivery_id}", headers=agent.headers)).json()
        assert failed["status"] == "failed"
        assert failed["next_attempt_at"] is None
        assert len(failed["attempt_log"]) == 8
        assert {a["status_code"] for a in failed["attempt_log"]} == {500}
        assert failed["last_error"] == "the receiver answered 500"
        state = (await client.get(url, headers=agent.headers)).json()
        assert state["enabled"] is True  # a day of failures does not disable it
        assert state["failing_since"] is not None
        listed = await client.get(
            f"{url}/deliveries", params={"status": "failed"}, headers=agent.headers
        )
        assert [d["id"] for d in listed.json()["items"]] == [str(delivery_id)]

        receiver.behaviour["/down"] = "ok"
        replayed = await client.post(
            f"{url}/deliveries/{delivery_id}/replay", headers=agent.headers
        )
        assert replayed.status_code == 202, replayed.text
        assert replayed.json()["status"] == "pending"
        again = await client.post(f"{url}/deliveries/{delivery_id}/replay", headers=agent.headers)
        assert again.status_code == 409
        await work(runtime)

        done = (await client.get(f"{url}/deliveries/{delivery_id}", headers=agent.headers)).json()
        assert done["status"] == "succeeded"
        assert done["attempts"] == 1
        assert len(done["attempt_log"]) == 9
        ids = {r.headers["webhook-id"] for r in receiver.at("/down")}
        assert len(ids) == 1  # the same message each time: a receiver can deduplicate
        assert (await client.get(url, headers=agent.headers)).json()["failing_since"] is None


async def test_an_endpoint_failing_for_days_is_disabled_its_client_told_and_its_failures_replayed(
    committed_runtime: Runtime, receiver: Receiver
) -> None:
    runtime = committed_runtime
    async with api(runtime) as client:
        admin = await user_login(client, runtime, Role.ADMIN)
        agent = await user_login(client, runtime, Role.AGENT)
        agency = await register_client(client, admin, agent)
        down = await subscribe(client, receiver, bearer(agency), "/down", ["quote.created"])
        await subscribe(client, receiver, bearer(agency), "/notices", ["webhook.*"])
        receiver.behaviour["/down"] = "fail"
        await quote_for_new_customer(client, agent)
        await quote_for_new_customer(client, agent)
        first, second = await published_fan_out(runtime)
        start = clock.now()

        with clock.frozen_at(start):
            assert await service.attempt(runtime, first) == 5
        with clock.frozen_at(start + timedelta(days=5)):  # no retry: it is disabled
            assert await service.attempt(runtime, second) is None

        url = f"{SUBSCRIPTIONS}/{down['id']}"
        state = (await client.get(url, headers=agent.headers)).json()
        assert state["enabled"] is False
        assert state["disabled_reason"] == "failing"
        ((payload,),) = await rows(
            runtime,
            "SELECT payload FROM outbox_events WHERE topic = 'webhook.subscription_disabled'",
        )
        assert payload["subscription_id"] == down["id"]
        assert payload["owner_id"] == str(agent.user_id)
        ((actor_id,),) = await rows(
            runtime,
            "SELECT actor_id FROM audit_log WHERE action = 'webhook.subscription_disabled' "
            "AND resource_id = :id",
            id=down["id"],
        )
        assert actor_id == "system:webhooks"

        await work(runtime)  # the notice goes out; the disabled endpoint gets nothing more

        (notice,) = receiver.at("/notices")
        assert notice.message["type"] == "webhook.subscription_disabled"
        assert notice.message["data"]["subscription_id"] == down["id"]
        assert len(receiver.at("/down")) == 2
        failed = await client.get(
            f"{url}/deliveries", params={"status": "failed"}, headers=agent.headers
        )
        assert len(failed.json()["items"]) == 2
        assert {d["last_error"] for d in failed.json()["items"]} == {
            "the subscription was disabled: failing"
        }
        refused = await client.post(
            f"{url}/replay", json={"since": start.isoformat()}, headers=agent.headers
        )
        assert refused.status_code == 409

        receiver.behaviour["/down"] = "ok"
        enabled = await client.patch(
            url, json={"enabled": True}, headers={**agent.headers, "If-Match": "*"}
        )
        assert enabled.json()["enabled"] is True
        assert enabled.json()["failing_since"] is None
        replay = await client.post(
            f"{url}/replay",
            json={"since": (start - timedelta(hours=1)).isoformat()},
            headers=agent.headers,
        )
        assert replay.status_code == 202
        assert replay.json() == {"replayed": 2}
        await work(runtime)

        delivered = await client.get(f"{url}/deliveries", headers=agent.headers)
        assert {d["status"] for d in delivered.json()["items"]} == {"succeeded"}
        replayed = receiver.at("/down")[2:]
        assert len(replayed) == 2
        assert all(r.verified_with for r in replayed)
        # The replay's own event is internal: not sent, even to the client's webhook.* one,
        # however often it is fanned out.
        assert await fan_out_all(runtime) == []
        await work(runtime)
        assert [r.message["type"] for r in receiver.at("/notices")] == [
            "webhook.subscription_disabled"
        ]
        ((replay_events, their_deliveries),) = await rows(
            runtime,
            "SELECT count(*), (SELECT count(*) FROM webhook_deliveries "
            "WHERE event_type = 'webhook.replay_requested') FROM outbox_events "
            "WHERE topic = 'webhook.replay_requested' AND position IS NOT NULL",
        )
        assert (replay_events, their_deliveries) == (1, 0)


async def test_a_delivery_whose_job_was_lost_is_woken_by_the_sweep(
    committed_runtime: Runtime, receiver: Receiver
) -> None:
    runtime = committed_runtime
    async with api(runtime) as client:
        admin = await user_login(client, runtime, Role.ADMIN)
        agent = await user_login(client, runtime, Role.AGENT)
        agency = await register_client(client, admin, agent)
        await subscribe(client, receiver, bearer(agency), "/hook", ["quote.created"])
        await quote_for_new_customer(client, agent)
    # Made, but the process died before deferring its job (or mid-attempt, its lease ended).
    (delivery_id,) = await published_fan_out(runtime)
    await work(runtime)  # its event's fan-out finds it made (no job); the sweep: not late yet
    assert receiver.at("/hook") == []

    async with runtime.db.unit_of_work() as session:
        await session.execute(
            text("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '3 minutes'")
        )
    app = queue_app(runtime)
    await app.configure_task("webhooks:wake_overdue").defer_async(timestamp=0)
    await work(runtime)

    (delivered,) = receiver.at("/hook")
    assert delivered.verified_with
    ((status,),) = await rows(
        runtime, "SELECT status FROM webhook_deliveries WHERE id = :id", id=delivery_id
    )
    assert status == "succeeded"


async def test_the_sweep_leaves_alone_a_delivery_whose_job_waits_in_the_queue(
    committed_runtime: Runtime, receiver: Receiver
) -> None:
    """A queue that has fallen behind holds jobs for deliveries already overdue: the sweep
    does not add another for each of them every minute (a job scheduled for later than the
    delivery is due, though, is no help: it is woken)."""
    runtime = committed_runtime
    async with api(runtime) as client:
        admin = await user_login(client, runtime, Role.ADMIN)
        agent = await user_login(client, runtime, Role.AGENT)
        agency = await register_client(client, admin, agent)
        await subscribe(client, receiver, bearer(agency), "/hook", ["quote.created"])
        await quote_for_new_customer(client, agent)
    (delivery_id,) = await published_fan_out(runtime)
    async with runtime.db.unit_of_work() as session:
        await session.execute(
            text("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '3 minutes'")
        )
    app = queue_app(runtime)

    async def woken() -> list[uuid.UUID]:
        async with runtime.db.unit_of_work() as session:
            return await service.overdue(session, before=clock.now() - OVERDUE_AFTER, limit=10)

    assert await woken() == [delivery_id]  # no job for it: lost
    await defer_deliveries(app, [delivery_id], in_seconds=3600)
    assert await woken() == [delivery_id]  # a job, but not before an hour
    await defer_deliveries(app, [delivery_id])
    assert await woken() == []  # a job waiting its turn
    await run_worker(runtime, wait=False, install_signal_handlers=False)
    (delivered,) = receiver.at("/hook")
    assert delivered.verified_with
    ((jobs,),) = await rows(
        runtime,
        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'webhooks:deliver' "
        "AND scheduled_at < now() + interval '30 minutes'",
    )
    assert jobs == 1  # the one it had: the sweep added none


async def test_a_replay_wakes_its_deliveries_on_the_pending_index(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    agency = await register_client(client, admin, agent)
    subscription_ids = []
    for n in range(10):
        made = await client.post(
            SUBSCRIPTIONS,
            json={"url": f"http://127.0.0.1:9/{n}", "event_types": ["quote.*"]},
            headers=bearer(agency),
        )
        assert made.status_code == 201, made.text
        subscription_ids.append(made.json()["id"])
    # Ten subscriptions' deliveries, half of them pending and due (a replay of failures).
    await session.execute(
        text(
            "INSERT INTO webhook_deliveries (id, subscription_id, event_id, event_type, status, "
            "attempts, next_attempt_at, created_at, updated_at) "
            "SELECT gen_random_uuid(), s.id, g, 'quote.created', "
            "CASE WHEN g % 2 = 0 THEN 'pending' ELSE 'succeeded' END, 0, "
            "CASE WHEN g % 2 = 0 THEN now() - random() * interval '1 day' END, now(), now() "
            "FROM webhook_subscriptions s, generate_series(1, 2000) g WHERE s.id = ANY(:ids)"
        ),
        {"ids": [uuid.UUID(i) for i in subscription_ids]},
    )
    await session.execute(text("ANALYZE webhook_deliveries"))
    query = repository.due(
        uuid.UUID(subscription_ids[0]), now=clock.now(), after=uuid.UUID(int=0), limit=500
    )
    compiled = query.compile(dialect=session.get_bind().dialect)
    assert compiled.positiontup is not None
    connection = await session.connection()
    explained = await connection.exec_driver_sql(
        f"EXPLAIN {compiled}", tuple(compiled.params[name] for name in compiled.positiontup)
    )
    plan = "\n".join(str(line) for (line,) in explained.all())
    assert "ix_webhook_deliveries_pending" in plan, plan


async def test_an_endpoint_failing_attempt_after_attempt_is_paused_then_tried_one_at_a_time(
    committed_runtime: Runtime, receiver: Receiver
) -> None:
    """The circuit breaker: after five failed attempts in a row the endpoint's deliveries wait,
    unsent and uncounted, for the schedule's next point; then one attempt at a time tries it
    (a black hole holds one worker slot, not one per delivery); a success closes it."""
    runtime = committed_runtime
    async with api(runtime) as client:
        admin = await user_login(client, runtime, Role.ADMIN)
        agent = await user_login(client, runtime, Role.AGENT)
        agency = await register_client(client, admin, agent)
        down = await subscribe(client, receiver, bearer(agency), "/down", ["quote.created"])
        receiver.behaviour["/down"] = "fail"
        for _ in range(8):
            await quote_for_new_customer(client, agent)
        deliveries = await published_fan_out(runtime)
        assert len(deliveries) == 8
        url = f"{SUBSCRIPTIONS}/{down['id']}"
        start = clock.now()
        # A shorter schedule, so that the clock stays within the five minutes a receiver
        # accepts a signature's timestamp in.
        policy = DeliveryPolicy(retry_delays=(5, 30, 60), timeout_seconds=0.5)

        with clock.frozen_at(start):
            for delivery_id in deliveries[:4]:
                assert await service.attempt(runtime, delivery_id, policy=policy) == 5
            assert (await client.get(url, headers=agent.headers)).json()["paused_until"] is None
            assert (
                await service.attempt(runtime, deliveries[4], policy=policy) == 5
            )  # the fifth: paused
            # Put off till the pause ends, unsent and not counted as an attempt.
            assert await service.attempt(runtime, deliveries[5], policy=policy) == 5
        assert len(receiver.at("/down")) == 5
        state = (await client.get(url, headers=agent.headers)).json()
        assert state["paused_until"] is not None
        (waiting,) = await rows(
            runtime,
            "SELECT attempts, next_attempt_at FROM webhook_deliveries WHERE id = :id",
            id=deliveries[5],
        )
        assert waiting == (0, start + timedelta(seconds=5))

        # The pause over, three deliveries at once: one tries the endpoint, the others wait.
        receiver.behaviour["/down"] = "slow"
        with clock.frozen_at(start + timedelta(seconds=5)):
            outcomes = await asyncio.gather(
                *(service.attempt(runtime, d, policy=policy) for d in deliveries[5:])
            )
        assert len(receiver.at("/down")) == 6
        # The probe failed: the next point of the schedule (35 s after the first failure); the
        # others wait for the probe (its timeout, a name's resolution and a margin).
        assert sorted(outcomes, key=str) == sorted([30, 11, 11], key=str)

        receiver.behaviour["/down"] = "ok"
        later = start + timedelta(seconds=35)
        with clock.frozen_at(later):
            # The first tries the endpoint and succeeds; the breaker closed, the rest go at once.
            for delivery_id in (*deliveries[5:], deliveries[0]):
                assert await service.attempt(runtime, delivery_id, policy=policy) is None
        assert len(receiver.at("/down")) == 10
        state = (await client.get(url, headers=agent.headers)).json()
        assert state["paused_until"] is None
        assert state["failing_since"] is None
