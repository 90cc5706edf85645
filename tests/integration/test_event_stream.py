"""The event stream: commit order without gaps, type filters, visibility and cursors."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

from httpx import AsyncClient
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.events import service as events
from pd_prime_demo.events.relay import publish_batch, relay_pending
from pd_prime_demo.identity.rules import permissions_for
from tests.factories import (
    Login,
    auto_quote,
    create_user,
    person,
    register_and_login,
    user_login,
)


async def _publish(runtime: Runtime) -> None:
    # No routes: nothing is deferred, so the test's transaction holds everything.
    async with runtime.db.unit_of_work() as session:
        while len(await publish_batch(session, runtime.queue.app, ())) == 500:
            pass


async def _stream(client: AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/events", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _quote_for(client: AsyncClient, headers: dict[str, str], customer_id: str) -> str:
    created = await client.post("/api/v1/quotes", json=auto_quote(customer_id), headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _customer(client: AsyncClient, agent: Login) -> str:
    created = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _company_event(runtime: Runtime) -> None:
    async with runtime.db.unit_of_work() as session:
        emit(
            session,
            "product_version.approved",
            "product_version",
            str(uuid.uuid4()),
            {"product_code": "personal_auto", "state": "TX", "version": 99},
        )


def _customers_of(items: list[dict[str, Any]]) -> set[str]:
    return {e["data"]["customer_id"] for e in items if e["aggregate_type"] == "quote"}


async def test_each_reader_sees_its_own_events_in_commit_order(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    underwriter = await user_login(client, runtime, Role.UNDERWRITER)
    mine = await user_login(client, runtime, Role.AGENT)
    theirs = await user_login(client, runtime, Role.AGENT)
    my_customer = await _customer(client, mine)
    their_customer = await _customer(client, theirs)
    holder = await register_and_login(client, f"sam.{uuid.uuid4().hex[:6]}@example.com")
    own = (await client.get("/api/v1/customers", headers=holder)).json()["items"][0]["id"]
    await _quote_for(client, mine.headers, my_customer)
    await _quote_for(client, theirs.headers, their_customer)
    await _quote_for(client, holder, own)
    await _company_event(runtime)
    await _publish(runtime)

    everything = await _stream(client, admin.headers, limit=1000)
    positions = [e["id"] for e in everything["items"]]
    assert positions == list(range(1, len(positions) + 1))  # gap free, in order
    head = positions[-1]
    assert everything["next_cursor"] == head
    assert {my_customer, their_customer, own} <= _customers_of(everything["items"])
    assert "product_version.approved" in {e["type"] for e in everything["items"]}
    assert (await _stream(client, underwriter.headers, limit=1000))["items"] == everything["items"]

    for reader, customer in ((mine.headers, my_customer), (theirs.headers, their_customer)):
        seen = await _stream(client, reader, limit=1000)
        assert _customers_of(seen["items"]) == {customer}
        assert {e["aggregate_type"] for e in seen["items"]} == {"quote"}  # no company events
        assert seen["next_cursor"] == head  # caught up, though its last event came earlier
    policyholder = await _stream(client, holder, limit=1000)
    assert _customers_of(policyholder["items"]) == {own}
    assert {e["type"] for e in policyholder["items"]} >= {"quote.created", "quote.quoted"}


async def test_types_filter_exactly_and_by_family(client: AsyncClient, runtime: Runtime) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    await _quote_for(client, agent.headers, await _customer(client, agent))
    await _company_event(runtime)
    await _publish(runtime)

    created = await _stream(client, admin.headers, type="quote.created", limit=1000)
    assert {e["type"] for e in created["items"]} == {"quote.created"}
    both = await client.get(
        "/api/v1/events",
        params=[("type", "quote.*"), ("type", "product_version.approved"), ("limit", "1000")],
        headers=admin.headers,
    )
    kinds = {e["type"] for e in both.json()["items"]}
    assert {"quote.created", "quote.quoted", "product_version.approved"} <= kinds
    assert all(k.startswith("quote.") or k == "product_version.approved" for k in kinds)
    assert (await _stream(client, admin.headers, type="policy.*"))["items"] == []

    for bad in ("quote.nonsense", "quote", "nothing.*", "*", "quote.%"):
        response = await client.get("/api/v1/events", params={"type": bad}, headers=admin.headers)
        assert response.status_code == 422, bad
        problem = response.json()
        assert problem["code"] == "request.invalid"
        assert problem["errors"][0]["parameter"].startswith("type")


async def test_a_cursor_resumes_after_the_last_event_seen(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    customer = await _customer(client, agent)
    for _ in range(3):
        await _quote_for(client, agent.headers, customer)
    await _publish(runtime)
    whole = (await _stream(client, admin.headers, limit=1000))["items"]

    paged: list[dict[str, Any]] = []
    cursor = 0
    for _ in range(len(whole) + 1):
        page = await _stream(client, admin.headers, after=cursor, limit=2)
        paged += page["items"]
        assert page["next_cursor"] >= cursor
        if page["next_cursor"] == cursor:
            break
        cursor = page["next_cursor"]
    assert paged == whole
    assert cursor == whole[-1]["id"]

    # Later events come after the cursor: a poller that resumes from it sees exactly them.
    await _quote_for(client, agent.headers, customer)
    await _publish(runtime)
    newer = await _stream(client, agent.headers, after=cursor)
    assert [e["type"] for e in newer["items"]] == ["quote.created", "quote.quoted"]
    assert [e["id"] for e in newer["items"]] == [cursor + 1, cursor + 2]


async def test_bad_input_and_who_may_read(client: AsyncClient, runtime: Runtime) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    other = await user_login(client, runtime, Role.AGENT)
    await _quote_for(client, agent.headers, await _customer(client, agent))
    await _company_event(runtime)
    await _publish(runtime)
    mine = (await _stream(client, agent.headers))["items"][0]

    assert (await client.get("/api/v1/events")).status_code == 401
    one = await client.get(f"/api/v1/events/{mine['id']}", headers=agent.headers)
    assert one.status_code == 200
    assert one.json() == mine
    # Another agent's customer, a company event, no such position: all simply not found.
    admin = await user_login(client, runtime, Role.ADMIN)
    company = await _stream(client, admin.headers, type="product_version.*", limit=1000)
    for position, reader in (
        (mine["id"], other),
        (company["items"][-1]["id"], agent),
        (10**12, agent),
    ):
        missing = await client.get(f"/api/v1/events/{position}", headers=reader.headers)
        assert missing.status_code == 404
        assert missing.json()["code"] == "event.not_found"
    for params in ({"after": -1}, {"limit": 0}, {"limit": 1001}, {"after": "x"}):
        bad = await client.get("/api/v1/events", params=params, headers=agent.headers)
        assert bad.status_code == 422, params
        assert bad.headers["content-type"] == "application/problem+json"
    assert (await client.get("/api/v1/events/0", headers=agent.headers)).status_code == 422


async def test_an_api_client_needs_the_events_scope(client: AsyncClient, runtime: Runtime) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    await _quote_for(client, agent.headers, await _customer(client, agent))
    await _publish(runtime)

    async def token(scopes: list[str]) -> dict[str, str]:
        registered = await client.post(
            "/api/v1/api-clients",
            json={"name": "feed", "owner_id": str(agent.user_id), "scopes": scopes},
            headers=admin.headers,
        )
        assert registered.status_code == 201, registered.text
        body = registered.json()
        issued = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": body["id"],
                "client_secret": body["client_secret"],
            },
        )
        return {"Authorization": f"Bearer {issued.json()['access_token']}"}

    denied = await client.get("/api/v1/events", headers=await token(["quotes:read"]))
    assert denied.status_code == 403
    assert denied.json()["code"] == "auth.permission_missing"
    feed = await _stream(client, await token(["events:read", "customers:read"]), limit=1000)
    assert feed["items"] == (await _stream(client, agent.headers, limit=1000))["items"]


async def test_no_gaps_while_writers_and_relays_race(committed_runtime: Runtime) -> None:
    """Writers commit (and roll back) concurrently while two relays publish and a poller
    follows the stream: at every read the events after its cursor start right after it."""
    runtime = committed_runtime
    app = await runtime.queue.ready()
    reader = Actor.system("stream-test")
    writing = True
    committed: set[str] = set()

    async def write(worker: int) -> None:
        for step in range(15):
            marker = f"{worker}-{step}"
            rolled_back = random.random() < 0.2
            try:
                async with runtime.db.unit_of_work() as session:
                    ids = [f"{marker}-{part}" for part in range(random.randint(1, 3))]
                    for aggregate_id in ids:
                        emit(session, "quote.created", "quote", aggregate_id, {})
                    await asyncio.sleep(random.random() / 100)
                    if rolled_back:
                        raise LookupError
            except LookupError:
                continue
            committed.update(ids)
            await asyncio.sleep(0)

    async def relay() -> None:
        while writing:
            await relay_pending(runtime.db, app, ())
            await asyncio.sleep(random.random() / 200)
        await relay_pending(runtime.db, app, ())

    seen: list[events.Published] = []

    async def poll() -> None:
        cursor = 0
        while True:
            async with runtime.db.sessionmaker() as session:
                read = await events.read_stream(session, actor=reader, after=cursor, limit=7)
            assert isinstance(read, Ok)
            page = read.value
            positions = [e.position for e in page.events]
            assert positions == list(range(cursor + 1, cursor + 1 + len(positions)))
            seen.extend(page.events)
            if not page.events and not writing and relays_done.is_set():
                return
            cursor = page.next_cursor
            await asyncio.sleep(0.001)

    relays_done = asyncio.Event()
    relays = [asyncio.create_task(relay()) for _ in range(2)]
    poller = asyncio.create_task(poll())
    await asyncio.gather(*(write(w) for w in range(8)))
    writing = False
    await asyncio.gather(*relays)
    relays_done.set()
    await asyncio.wait_for(poller, timeout=60)

    assert [e.position for e in seen] == list(range(1, len(seen) + 1))
    got = [e.aggregate_id for e in seen if e.type == "quote.created"]  # besides the seed's
    assert len(got) == len(set(got))  # each once
    assert set(got) == committed  # everything committed, nothing rolled back
    async with runtime.db.sessionmaker() as session:
        assert await events.head(session) == len(seen)


async def test_live_updates_learn_each_viewers_share_of_a_batch_in_one_query_per_kind(
    client: AsyncClient, runtime: Runtime
) -> None:
    """The fan-out's query (one per kind of viewer, however many are connected) agrees with
    the stream: each agent gets its book, each policyholder its own record, staff all."""
    agents = [await user_login(client, runtime, Role.AGENT) for _ in range(3)]
    for agent in agents:
        await _quote_for(client, agent.headers, await _customer(client, agent))
    holder = await register_and_login(client, f"kim.{uuid.uuid4().hex[:6]}@example.com")
    own = (await client.get("/api/v1/customers", headers=holder)).json()["items"][0]["id"]
    await _quote_for(client, holder, own)
    holder_id = uuid.UUID((await client.get("/api/v1/users/me", headers=holder)).json()["id"])
    adjuster = await user_login(client, runtime, Role.ADJUSTER)
    await _company_event(runtime)
    await _publish(runtime)

    readers = [
        *(
            (a.headers, Actor.user(a.user_id, Role.AGENT, permissions_for(Role.AGENT)))
            for a in agents
        ),
        (holder, Actor.user(holder_id, Role.CUSTOMER, permissions_for(Role.CUSTOMER))),
        (
            adjuster.headers,
            Actor.user(adjuster.user_id, Role.ADJUSTER, permissions_for(Role.ADJUSTER)),
        ),
    ]
    audiences = [events.audience_of(actor) for _, actor in readers]
    async with runtime.db.sessionmaker() as session:
        batch = await events.published_after(session, 0, limit=10_000)
        allowed = await events.recipients(session, batch, audiences)
    for (headers, actor), audience in zip(readers, audiences, strict=True):
        expected = [e["id"] for e in (await _stream(client, headers, limit=1000))["items"]]
        shared = [e.position for e in batch if events.admits(audience, e, allowed)]
        assert shared == expected, actor.role
        assert shared, actor.role


# A book large enough to be read in windows of positions: 300 customers, a page of 100.
BOOK = 300


async def _book_of_events(runtime: Runtime) -> tuple[Actor, list[events.Published], int]:
    """An agent with ``BOOK`` customers and another with as many, and 20,000 events published
    for them: the first agent's half of positions 1-10000 (about 14 a customer), none of
    10001-14000, one in twenty of 14001-20000; every seventh of no customer. The agent,
    every event it may see, and the head before them."""
    mine = await create_user(runtime, Role.AGENT)
    theirs = await create_user(runtime, Role.AGENT)
    async with runtime.db.unit_of_work() as session:
        before = await events.head(session)
        await session.execute(
            text(
                "INSERT INTO customers (id, kind, first_name, last_name, display_name, email,"
                " address_line1, city, state, postal_code, country, agent_id, version,"
                " created_at, updated_at)"
                " SELECT gen_random_uuid(), 'person', 'F', 'L', 'F L', 'c' || g || '@x.example',"
                " '1 Main St', 'Austin', 'TX', '78701', 'US',"
                " CASE WHEN g % 2 = 0 THEN CAST(:mine AS uuid) ELSE CAST(:theirs AS uuid) END,"
                " 1, now(), now() FROM generate_series(1, :n) g"
            ),
            {"mine": mine, "theirs": theirs, "n": 2 * BOOK},
        )
        await session.execute(
            text(
                "WITH m AS (SELECT array_agg(id) AS ids FROM customers WHERE agent_id = :mine),"
                " t AS (SELECT array_agg(id) AS ids FROM customers WHERE agent_id = :theirs),"
                " e AS (SELECT g, CASE WHEN g % 7 = 0 THEN NULL"
                "   WHEN (g <= 10000 AND g % 2 = 0) OR (g > 14000 AND g % 20 = 0)"
                "   THEN m.ids[1 + g % :n] ELSE t.ids[1 + g % :n] END AS customer_id"
                "   FROM generate_series(1, 20000) g, m, t)"
                " INSERT INTO outbox_events (occurred_at, topic, aggregate_type, aggregate_id,"
                "   payload, published_at, position, customer_id)"
                " SELECT now(), CASE WHEN customer_id IS NULL THEN 'product_version.approved'"
                "   WHEN g % 3 = 0 THEN 'policy.endorsement' ELSE 'quote.created' END,"
                "   'quote', g::text, '{}', now(), :before + g, customer_id FROM e"
            ),
            {"mine": mine, "theirs": theirs, "n": BOOK, "before": before},
        )
    agent = Actor.user(mine, Role.AGENT, permissions_for(Role.AGENT))
    async with runtime.db.sessionmaker() as session:
        owned = {
            row[0]
            for row in await session.execute(
                text("SELECT id FROM customers WHERE agent_id = :a"), {"a": mine}
            )
        }
        every = await events.published_after(session, before, limit=30_000)
    return agent, [e for e in every if e.customer_id in owned], before


async def test_an_agents_large_book_pages_exactly_as_its_events_lie(runtime: Runtime) -> None:
    """Paged with any limit and type filter, from any cursor, a large book's stream is exactly
    its events in order, and each page's next_cursor resumes without a gap."""
    agent, mine, before = await _book_of_events(runtime)
    head = before + 20_000
    middle, late = mine[len(mine) // 2].position, mine[-30].position
    cases: list[tuple[int, tuple[str, ...], int]] = [
        (1, (), late),  # across the stretch of none, into the sparse end
        (7, (), middle),
        (100, (), before),
        (1000, (), before),
        (100, ("policy.endorsement",), before),
        (250, ("quote.*",), middle),
    ]
    for limit, types, start in cases:
        expected = [
            e.position
            for e in mine
            if e.position > start and (not types or _admitted(e.type, types))
        ]
        cursor, got = start, []
        async with runtime.db.sessionmaker() as session:
            while True:
                read = await events.read_stream(
                    session, actor=agent, after=cursor, types=types, limit=limit
                )
                assert isinstance(read, Ok)
                page = read.value
                got += [e.position for e in page.events]
                assert page.next_cursor >= cursor
                if len(page.events) < limit:
                    assert page.next_cursor == head  # nothing of its own lies beyond
                    break
                assert page.next_cursor == page.events[-1].position
                cursor = page.next_cursor
        assert got == expected, (limit, types, start)
    assert len(mine) > 4000


def _admitted(name: str, types: tuple[str, ...]) -> bool:
    return any(name == t or (t.endswith(".*") and name.startswith(t[:-1])) for t in types)


async def test_a_page_of_a_large_book_reads_about_a_page_not_the_book(
    runtime: Runtime, engine: AsyncEngine
) -> None:
    """Counted in the plans PostgreSQL ran: a page of a book of 300 customers reads a few
    hundred events, where reading each customer's next page of events would read all the
    book's thousands (and a replay from 0, all that is left of them for every page)."""
    agent, mine, before = await _book_of_events(runtime)
    for after in (before, mine[len(mine) // 3].position):
        async with runtime.db.sessionmaker() as session, _plans(engine) as plans:
            read = await events.read_stream(session, actor=agent, after=after, limit=100)
            assert isinstance(read, Ok)
            read_rows = sum([await _events_read(session, *run) for run in plans])
        assert [e.position for e in read.value.events] == [
            e.position for e in mine if e.position > after
        ][:100]
        assert read_rows <= 1_500, (after, read_rows)


@contextlib.asynccontextmanager
async def _plans(engine: AsyncEngine) -> AsyncIterator[list[tuple[str, Any]]]:
    """The statements on outbox_events run in the block, with their parameters."""
    ran: list[tuple[str, Any]] = []

    def seen(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "outbox_events" in statement and not statement.startswith("EXPLAIN"):
            ran.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        yield ran
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)


async def _events_read(session: AsyncSession, statement: str, parameters: Any) -> int:
    """How many rows of outbox_events the statement's plan read (kept or filtered out)."""
    connection = await session.connection()
    explained = await connection.exec_driver_sql(
        "EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters
    )
    plan = explained.scalar_one()
    return _rows_of(plan[0]["Plan"])


def _rows_of(node: dict[str, Any]) -> int:
    own = 0
    if node.get("Relation Name") == "outbox_events" and "Index Only" not in node["Node Type"]:
        kept = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        own = kept * node["Actual Loops"]
    return own + sum(_rows_of(child) for child in node.get("Plans", ()))


async def _webhook_notices(runtime: Runtime, owner: uuid.UUID) -> None:
    """What the webhooks write: a replay's internal message, and a subscription disabled for
    ``owner``'s client and for another owner's."""
    async with runtime.db.unit_of_work() as session:
        for who in (owner, uuid.uuid4()):
            subscription, client = str(uuid.uuid4()), str(uuid.uuid4())
            emit(
                session,
                "webhook.replay_requested",
                "webhook_subscription",
                subscription,
                {"subscription_id": subscription, "client_id": client},
            )
            emit(
                session,
                "webhook.subscription_disabled",
                "webhook_subscription",
                subscription,
                {
                    "subscription_id": subscription,
                    "client_id": client,
                    "owner_id": str(who),
                    "failing_since": None,
                },
            )


async def test_internal_events_are_nobodys_and_client_notices_only_admins_and_owners(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    underwriter = await user_login(client, runtime, Role.UNDERWRITER)
    agent = await user_login(client, runtime, Role.AGENT)
    other = await user_login(client, runtime, Role.AGENT)
    await _quote_for(client, agent.headers, await _customer(client, agent))
    await _company_event(runtime)
    await _webhook_notices(runtime, agent.user_id)
    await _publish(runtime)
    registered = await client.post(
        "/api/v1/api-clients",
        json={"name": "feed", "owner_id": str(agent.user_id), "scopes": ["events:read"]},
        headers=admin.headers,
    )
    issued = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": registered.json()["id"],
            "client_secret": registered.json()["client_secret"],
        },
    )
    feed = {"Authorization": f"Bearer {issued.json()['access_token']}"}

    def notices(page: dict[str, Any]) -> list[str]:
        return [e["data"]["owner_id"] for e in page["items"] if e["type"].startswith("webhook.")]

    everything = await _stream(client, admin.headers, limit=1000)
    assert "webhook.replay_requested" not in {e["type"] for e in everything["items"]}
    assert len(notices(everything)) == 2
    assert str(agent.user_id) in notices(everything)
    staff = await _stream(client, underwriter.headers, limit=1000)
    assert notices(staff) == []
    assert "product_version.approved" in {e["type"] for e in staff["items"]}  # still staff's
    for reader in (agent.headers, feed):  # the owner, and its client (without customers:read)
        assert notices(await _stream(client, reader, limit=1000)) == [str(agent.user_id)]
    assert notices(await _stream(client, other.headers, limit=1000)) == []
    mine = next(e for e in everything["items"] if notices({"items": [e]}) == [str(agent.user_id)])
    assert (await client.get(f"/api/v1/events/{mine['id']}", headers=agent.headers)).json() == mine
    for login in (underwriter, other):
        missing = await client.get(f"/api/v1/events/{mine['id']}", headers=login.headers)
        assert missing.status_code == 404

    async with runtime.db.sessionmaker() as session:
        head = await events.head(session)
        batch = await events.published_after(session, 0, limit=10_000)
        internal = [e.position for e in batch if e.type == "webhook.replay_requested"]
        assert len(internal) == 2
        hidden = await client.get(f"/api/v1/events/{internal[0]}", headers=admin.headers)
        assert hidden.status_code == 404
        # Live updates' fan-out gives each reader what its stream gives it.
        for who in (admin, underwriter, agent, other):
            actor = Actor.user(who.user_id, who.role, permissions_for(who.role))
            audience = events.audience_of(actor)
            allowed = await events.recipients(session, batch, [audience])
            shared = [e.position for e in batch if events.admits(audience, e, allowed)]
            stream = await _stream(client, who.headers, limit=1000)
            assert shared == [e["id"] for e in stream["items"]], who.role
            assert stream["next_cursor"] == head
    asked = {"type": "webhook.replay_requested"}  # not a type a reader may name
    assert (
        await client.get("/api/v1/events", params=asked, headers=admin.headers)
    ).status_code == 422
    webhooks = await _stream(client, agent.headers, type="webhook.*")
    assert notices(webhooks) == [str(agent.user_id)]
