"""Webhooks delivered for real: a database that commits, the worker, and an HTTP receiver on a
local port that verifies every signature. Events reach only the subscriptions whose client may
see them, once each, never for a rolled-back change; a slow receiver is a failed attempt; an
address is checked again at each attempt."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator

import pytest
from httpx import AsyncClient
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import Environment
from pd_prime_demo.core.outbox import OutboxEvent, emit
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.events.relay import publish_batch, relay_pending
from pd_prime_demo.webhooks import repository, service
from pd_prime_demo.webhooks.rules import DeliveryPolicy
from pd_prime_demo.worker import ROUTES, queue_app
from tests.api.test_webhook_subscriptions import SUBSCRIPTIONS, bearer, register_client
from tests.conftest import make_settings
from tests.factories import user_login
from tests.integration.webhook_receiver import (
    Receiver,
    api,
    fan_out_all,
    listening,
    quote_for_new_customer,
    rolled_back_change,
    rows,
    subscribe,
    work,
)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with listening() as found:
        yield found


async def published_fan_out(runtime: Runtime) -> list[uuid.UUID]:
    """Every committed event published (numbered, its jobs deferred) and fanned out there and
    then, without the worker: the deliveries made (an unpublished event makes none)."""
    await runtime.queue.ready()
    await relay_pending(runtime.db, queue_app(runtime), ROUTES)
    return await fan_out_all(runtime)


async def test_events_reach_only_clients_that_may_see_them_signed_and_once(
    committed_runtime: Runtime, receiver: Receiver
) -> None:
    runtime = committed_runtime
    async with runtime.db.unit_of_work() as session:
        # Event ids and positions differ, as on a busy system (ids are taken in insert order,
        # positions in commit order): the message's id is the position, as in the stream.
        await session.execute(
            text("SELECT setval(pg_get_serial_sequence('outbox_events', 'id'), 1000)")
        )
    async with api(runtime) as client:
        admin = await user_login(client, runtime, Role.ADMIN)
        agent = await user_login(client, runtime, Role.AGENT)
        other_agent = await user_login(client, runtime, Role.AGENT)
        underwriter = await user_login(client, runtime, Role.UNDERWRITER)
        agency = await register_client(client, admin, agent)
        carrier = await register_client(client, admin, underwriter)
        mine = await subscribe(client, receiver, bearer(agency), "/agency", ["*"])
        theirs_too = await subscribe(
            client, receiver, bearer(carrier), "/carrier", ["quote.*", "product.*"]
        )
        old_secret = receiver.secrets["/carrier"][0]
        rotated = await client.post(
            f"{SUBSCRIPTIONS}/{theirs_too['id']}/secret", headers=bearer(carrier)
        )
        new_secret = rotated.json()["secret"]
        receiver.secrets["/carrier"] = [old_secret, new_secret]

        customer, quote = await quote_for_new_customer(client, agent)
        theirs, their_quote = await quote_for_new_customer(client, other_agent)
        async with runtime.db.unit_of_work() as session:  # the company's own: no customer
            emit(session, "product.published", "product", "HO3", {"product_code": "HO3"})
        await rolled_back_change(runtime, uuid.UUID(customer))

        await work(runtime)

        agency_got = receiver.at("/agency")
        assert agency_got, "the agency's client received its quote"
        assert {r.message["data"]["customer_id"] for r in agency_got} == {customer}
        assert "quote.created" in {r.message["type"] for r in agency_got}
        assert all(r.verified_with for r in agency_got)
        created = next(r for r in agency_got if r.message["type"] == "quote.created")
        assert created.message["data"]["aggregate_id"] == quote
        ((event_id, position),) = await rows(
            runtime,
            "SELECT id, position FROM outbox_events "
            "WHERE topic = 'quote.created' AND aggregate_id = :q",
            q=quote,
        )
        assert event_id != position
        assert created.headers["webhook-id"] == f"evt_{position}"
        assert created.message["id"] == position
        stream = await client.get(f"/api/v1/events/{position}", headers=bearer(agency))
        assert stream.status_code == 200, stream.text
        assert stream.json()["id"] == created.message["id"]
        assert created.headers["content-type"] == "application/json"
        assert not any("rolled-back" in r.body.decode() for r in receiver.received)

        carrier_got = receiver.at("/carrier")
        assert {r.message["data"]["customer_id"] for r in carrier_got} == {customer, theirs, None}
        assert {r.message["data"]["aggregate_id"] for r in carrier_got} >= {quote, their_quote}
        # During the rotation each delivery is signed with both secrets.
        assert all(set(r.verified_with) == {old_secret, new_secret} for r in carrier_got)

        log = await client.get(f"{SUBSCRIPTIONS}/{mine['id']}/deliveries", headers=bearer(agency))
        assert log.status_code == 200
        assert len(log.json()["items"]) == len(agency_got)
        assert {d["status"] for d in log.json()["items"]} == {"succeeded"}
        one = log.json()["items"][0]
        detail = await client.get(
            f"{SUBSCRIPTIONS}/{mine['id']}/deliveries/{one['id']}", headers=agent.headers
        )
        (attempt,) = detail.json()["attempt_log"]
        assert attempt["status_code"] == 200
        assert attempt["error"] is None
        hidden = await client.get(
            f"{SUBSCRIPTIONS}/{mine['id']}/deliveries", headers=other_agent.headers
        )
        assert hidden.status_code == 404

        # Fanned out again (a repeated job), nothing new is made or sent.
        count = len(receiver.received)
        assert await fan_out_all(runtime) == []
        await work(runtime)
        assert len(receiver.received) == count

        # A revoked client receives nothing more.
        revoked = await client.post(
            f"/api/v1/api-clients/{agency['id']}/revocation", headers=admin.headers
        )
        assert revoked.status_code == 200, revoked.text
        await quote_for_new_customer(client, agent)
        await work(runtime)
        assert len(receiver.at("/agency")) == len(agency_got)


async def test_a_fan_out_waits_for_the_relay_that_publishes_its_event(
    committed_runtime: Runtime, receiver: Receiver
) -> None:
    """The relay defers an event's fan-out before its numbering commits: a worker may start
    the job first. The fan-out waits for that commit (the event's position is its webhook-id)
    instead of finding the event unpublished and making nothing."""
    runtime = committed_runtime
    async with api(runtime) as client:
        admin = await user_login(client, runtime, Role.ADMIN)
        agent = await user_login(client, runtime, Role.AGENT)
        agency = await register_client(client, admin, agent)
        await subscribe(client, receiver, bearer(agency), "/hook", ["quote.created"])
        await quote_for_new_customer(client, agent)
    app = await runtime.queue.ready()
    assert await fan_out_all(runtime) == []  # not published yet: nothing to send
    ((event_id,),) = await rows(
        runtime, "SELECT id FROM outbox_events WHERE topic = 'quote.created'"
    )

    async def fan_out() -> list[uuid.UUID]:
        async with runtime.db.unit_of_work() as session:
            return await service.fan_out(session, event_id, now=clock.now())

    async with runtime.db.unit_of_work() as relay:
        assert await publish_batch(relay, app, ())  # numbered, not yet committed
        started = asyncio.create_task(fan_out())
        await asyncio.sleep(0.5)
        assert not started.done()
    made = await started
    assert len(made) == 1


async def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(
    committed_runtime: Runtime, receiver: Receiver
) -> None:
    runtime = committed_runtime
    async with api(runtime) as client:
        admin = await user_login(client, runtime, Role.ADMIN)
        agent = await user_login(client, runtime, Role.AGENT)
        agency = await register_client(client, admin, agent)
        await subscribe(client, receiver, bearer(agency), "/slow", ["quote.created"])
        receiver.behaviour["/slow"] = "slow"
        await quote_for_new_customer(client, agent)
        (delivery_id,) = await published_fan_out(runtime)

        retry_in = await service.attempt(
            runtime, delivery_id, policy=DeliveryPolicy(timeout_seconds=0.5)
        )

    assert retry_in == 5
    ((status_code, latency_ms, error, state),) = await rows(
        runtime,
        "SELECT a.status_code, a.latency_ms, a.error, d.status FROM webhook_attempts a "
        "JOIN webhook_deliveries d ON d.id = a.delivery_id",
    )
    assert status_code is None
    assert 400 <= latency_ms < 3000
    assert error == "no answer within 0.5 s"
    assert state == "pending"
    assert len(receiver.at("/slow")) == 1


async def test_addresses_are_checked_again_when_delivering(
    committed_runtime: Runtime, receiver: Receiver
) -> None:
    runtime = committed_runtime
    async with api(runtime) as client:
        admin = await user_login(client, runtime, Role.ADMIN)
        agent = await user_login(client, runtime, Role.AGENT)
        agency = await register_client(client, admin, agent)
        plain = await subscribe(client, receiver, bearer(agency), "/plain", ["quote.created"])
        await subscribe(client, receiver, bearer(agency), "/tls", ["quote.created"])
        async with runtime.db.unit_of_work() as session:  # an https URL to a loopback port
            await session.execute(
                text("UPDATE webhook_subscriptions SET url = :url WHERE url LIKE '%/tls'"),
                {"url": receiver.url("/tls").replace("http:", "https:")},
            )
        await quote_for_new_customer(client, agent)
        deliveries = await published_fan_out(runtime)
    # The same deliveries, by a worker of a production deployment.
    production = dataclasses.replace(
        runtime, settings=make_settings(runtime.db.url, env=Environment.PRODUCTION)
    )
    for delivery_id in deliveries:
        await service.attempt(production, delivery_id)

    outcomes = {
        subscription_id: (status, error, attempts)
        for subscription_id, status, error, attempts in await rows(
            runtime,
            "SELECT d.subscription_id::text, d.status, coalesce(a.error, d.last_error), "
            "d.attempts FROM webhook_deliveries d LEFT JOIN webhook_attempts a "
            "ON a.delivery_id = d.id",
        )
    }
    assert outcomes[plain["id"]] == ("failed", "a webhook URL must use https", 0)
    (tls,) = [o for s, o in outcomes.items() if s != plain["id"]]
    assert tls == ("pending", "127.0.0.1 is not a public address", 1)
    assert receiver.received == []


async def _published_event(
    session: AsyncSession, topic: str, customer_id: str | None = None
) -> int:
    """A published event (numbered as the relay does), made after the subscriptions."""
    event_id: int = (
        await session.execute(
            text(
                "INSERT INTO outbox_events (occurred_at, topic, aggregate_type, aggregate_id, "
                "payload, published_at, position, customer_id) SELECT :at, :topic, 'quote', 'q', "
                "'{}', :at, coalesce(max(position), 0) + 1, :customer_id FROM outbox_events "
                "RETURNING id"
            ),
            {"at": clock.now(), "topic": topic, "customer_id": customer_id},
        )
    ).scalar_one()
    return event_id


async def test_the_fan_out_finds_its_subscriptions_on_the_gin_index(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    agency = await register_client(client, admin, agent)
    made = await client.post(
        SUBSCRIPTIONS,
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["quote.*"]},
        headers=bearer(agency),
    )
    assert made.status_code == 201, made.text
    # A few thousand subscriptions, nearly all to other types, some disabled.
    await session.execute(
        text(
            "INSERT INTO webhook_subscriptions (id, client_id, owner_id, url, event_types, "
            "secret, enabled, version, created_at, updated_at, created_by) "
            "SELECT gen_random_uuid(), client_id, owner_id, url, ARRAY['other' || g || '.*'], "
            "secret, g % 10 <> 0, 1, created_at, updated_at, created_by "
            "FROM webhook_subscriptions, generate_series(1, 4000) g WHERE id = :id"
        ),
        {"id": made.json()["id"]},
    )
    await session.execute(text("ANALYZE webhook_subscriptions"))
    event = await session.get_one(OutboxEvent, await _published_event(session, "quote.created"))

    # The statement as the fan-out sends it (its array parameter typed as the column's).
    compiled = repository.matching(event).compile(dialect=session.get_bind().dialect)
    assert compiled.positiontup is not None
    connection = await session.connection()
    explained = await connection.exec_driver_sql(
        f"EXPLAIN {compiled}", tuple(compiled.params[name] for name in compiled.positiontup)
    )
    plan = "\n".join(str(line) for (line,) in explained.all())
    assert "ix_webhook_subscriptions_event_types" in plan, plan
    assert [
        s for s, _ in await repository.matching_subscriptions(session, event, after=None, limit=9)
    ] == [uuid.UUID(made.json()["id"])]


async def test_a_fan_out_asks_who_sees_a_customer_once_per_viewer_a_chunk_at_a_time(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    other_agent = await user_login(client, runtime, Role.AGENT)
    mine = [await register_client(client, admin, agent) for _ in range(3)]
    theirs = await register_client(client, admin, other_agent)
    subscriptions: dict[str, list[str]] = {}
    for api_client in (*mine, theirs):
        for n in range(4):
            made = await client.post(
                SUBSCRIPTIONS,
                json={"url": f"http://127.0.0.1:9/hook/{n}", "event_types": ["quote.*"]},
                headers=bearer(api_client),
            )
            assert made.status_code == 201, made.text
            subscriptions.setdefault(api_client["id"], []).append(made.json()["id"])
    customer, _ = await quote_for_new_customer(client, agent)
    event_id = await _published_event(session, "quote.created", customer)

    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = runtime.db.engine.sync_engine
    sqlalchemy_event.listen(engine, "before_cursor_execute", count)
    try:
        async with runtime.db.unit_of_work() as fanning:
            made_ids = await service.fan_out(fanning, event_id, now=clock.now(), chunk=5)
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", count)

    delivered = {
        str(s)
        for (s,) in (
            await session.execute(
                text("SELECT subscription_id FROM webhook_deliveries WHERE event_id = :e"),
                {"e": event_id},
            )
        ).all()
    }
    assert len(made_ids) == 12
    assert delivered == {s for c in mine for s in subscriptions[c["id"]]}
    # 16 subscriptions, 4 clients, 2 agents: their customer asked about twice, not 16 times.
    assert sum(" customers" in s for s in statements) == 2, statements
