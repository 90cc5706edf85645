"""Live updates for real: two server processes on one database, WebSocket clients on each.

Server A runs the queue worker and the relay inside it (``PD_PRIME_EMBEDDED_WORKER``), as
``make demo`` does; server B only serves. A change committed through A is published by A's
relay and announced on ``pd_prime_events``; B's one listener reads it and pushes it to the
sockets that may see it. Resuming with ``last_event_id`` replays what was missed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pd_prime_demo.bench.api import free_port, server_command
from pd_prime_demo.bench.realtime import measure_latency
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.cache import create_cache
from pd_prime_demo.core.database import Database, run_migrations_async
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.events.relay import relay_pending
from pd_prime_demo.identity.rules import permissions_for
from pd_prime_demo.main import create_app
from pd_prime_demo.realtime import service as realtime
from pd_prime_demo.realtime.hub import Hub
from pd_prime_demo.seed import seed_products
from tests.conftest import (
    KEYS,
    create_scratch_database,
    drop_scratch_database,
    make_settings,
)
from tests.factories import PASSWORD, auto_quote, create_user, person

WAIT = 20.0


@dataclass(frozen=True)
class Server:
    http: str
    ws: str


async def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Server]:
    launch = server_command(
        free_port(), workers=1, callgrind=False, factory="pd_prime_demo.main:app_factory"
    )
    process = subprocess.Popen(launch.argv, env=env)  # noqa: S603, ASYNC220 - our own module
    base = f"http://127.0.0.1:{launch.port}"
    async with httpx.AsyncClient(base_url=base) as client:
        for _ in range(150):
            try:
                if (await client.get("/health/ready")).status_code == 200:
                    return process, Server(base, f"ws://127.0.0.1:{launch.port}")
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    process.terminate()
    pytest.fail("a server did not become ready")


@pytest.fixture(scope="module")
async def live_runtime(server_url: str) -> AsyncIterator[Runtime]:
    """One committed scratch database for the module's servers (starting them is slow)."""
    url = await create_scratch_database(server_url)
    await run_migrations_async(url)
    db = Database(create_async_engine(url, pool_size=5))
    async with db.unit_of_work() as session:
        await seed_products(session)
    runtime = Runtime.create(make_settings(url, redis_url=None), db=db)
    yield runtime
    await runtime.close()
    await drop_scratch_database(server_url, url)


@pytest.fixture(scope="module")
async def servers(
    live_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[list[Server]]:
    env = {
        **os.environ,
        **KEYS,
        "DATABASE_URL": live_runtime.db.url,
        "PD_PRIME_ENV": "test",
        "PD_PRIME_DATA_DIR": str(tmp_path_factory.mktemp("realtime")),
        "PD_PRIME_ARGON2_TIME_COST": "1",
        "PD_PRIME_ARGON2_MEMORY_COST_KIB": "64",
        "PD_PRIME_ARGON2_PARALLELISM": "1",
        "PD_PRIME_LOG_LEVEL": "WARNING",
    }
    started: list[tuple[subprocess.Popen[bytes], Server]] = []
    try:
        for embedded in ("true", "false"):
            started.append(await _serve({**env, "PD_PRIME_EMBEDDED_WORKER": embedded}))
        yield [server for _, server in started]
    finally:
        for process, _ in started:
            process.terminate()
            process.wait(timeout=30)


async def _login(
    server: Server, runtime: Runtime, role: Role, *, email: str = ""
) -> dict[str, str]:
    """A new login session (of a new user, or of the one with ``email``)."""
    if not email:
        email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
        await create_user(runtime, role, email=email)
    async with httpx.AsyncClient(base_url=server.http) as client:
        response = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": email, "password": PASSWORD},
        )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _me(server: Server, headers: dict[str, str]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.http) as client:
        response = await client.get("/api/v1/users/me", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _post(server: Server, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
    async with httpx.AsyncClient(base_url=server.http) as client:
        response = await client.post(path, headers=headers, **kwargs)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


async def _api_client(server: Server, admin: dict[str, str], owner: str) -> tuple[str, str]:
    """An API client of ``owner`` that reads events and customers: its id and bearer token."""
    scopes = ["events:read", "customers:read"]
    body = await _post(
        server,
        "/api/v1/api-clients",
        admin,
        json={"name": "feed", "owner_id": owner, "scopes": scopes},
    )
    issued = await _post(
        server,
        "/api/v1/auth/token",
        {},
        data={
            "grant_type": "client_credentials",
            "client_id": body["id"],
            "client_secret": body["client_secret"],
        },
    )
    return str(body["id"]), f"Bearer {issued['access_token']}"


async def _ticket(server: Server, headers: dict[str, str]) -> str:
    async with httpx.AsyncClient(base_url=server.http) as client:
        response = await client.post("/api/v1/realtime/tickets", headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["url"] == "/api/v1/realtime/ws"
    return str(body["ticket"])


async def _socket(
    server: Server, headers: dict[str, str], *, last_event_id: int | None = None, ticket: str = ""
) -> ClientConnection:
    query = f"ticket={ticket or await _ticket(server, headers)}"
    if last_event_id is not None:
        query += f"&last_event_id={last_event_id}"
    return await connect(f"{server.ws}/api/v1/realtime/ws?{query}", open_timeout=WAIT)


async def _next_event(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout=WAIT))
        if message["type"] not in ("heartbeat", "pong"):
            return message


async def _closed_with(ws: ClientConnection) -> int:
    """The close code, whatever messages came before it."""
    return (await _until_closed(ws))[1]


async def _collect(ws: ClientConnection, received: list[dict[str, Any]]) -> None:
    async with asyncio.timeout(WAIT):  # heartbeats alone would keep it open for ever
        while True:
            message = json.loads(await ws.recv())
            if message["type"] not in ("heartbeat", "pong"):
                received.append(message)


async def _until_closed(ws: ClientConnection) -> tuple[list[dict[str, Any]], int]:
    """The events received until the socket closed, and its close code."""
    received: list[dict[str, Any]] = []
    with pytest.raises(ConnectionClosed) as closed:
        await _collect(ws, received)
    assert closed.value.rcvd is not None
    return received, closed.value.rcvd.code


async def _quote(server: Server, headers: dict[str, str], customer_id: str) -> str:
    async with httpx.AsyncClient(base_url=server.http) as client:
        response = await client.post(
            "/api/v1/quotes", json=auto_quote(customer_id), headers=headers
        )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _customer(server: Server, headers: dict[str, str]) -> str:
    async with httpx.AsyncClient(base_url=server.http) as client:
        response = await client.post("/api/v1/customers", json=person(), headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _quote_events(ws: ClientConnection, quote_id: str) -> list[dict[str, Any]]:
    """The two events of a new quote that rates cleanly, in order."""
    events = [await _next_event(ws), await _next_event(ws)]
    assert [e["type"] for e in events] == ["quote.created", "quote.quoted"]
    assert {e["aggregate_id"] for e in events} == {quote_id}
    assert events[1]["id"] > events[0]["id"]
    return events


async def _rolled_back(runtime: Runtime) -> None:
    async with runtime.db.unit_of_work() as session:
        emit(session, "quote.created", "quote", "rolled-back", {}, customer_id=None)
        raise LookupError


async def test_a_change_through_one_server_reaches_the_sockets_on_both(
    servers: list[Server], live_runtime: Runtime
) -> None:
    a, b = servers
    mine = await _login(a, live_runtime, Role.AGENT)
    theirs = await _login(a, live_runtime, Role.AGENT)
    staff = await _login(b, live_runtime, Role.UNDERWRITER)
    my_customer = await _customer(a, mine)
    their_customer = await _customer(a, theirs)
    on_b = await _socket(b, mine)
    other_on_b = await _socket(b, theirs)
    staff_on_a = await _socket(a, staff)

    quote = await _quote(a, mine, my_customer)
    mine_seen = await _quote_events(on_b, quote)
    assert mine_seen[0]["data"]["customer_id"] == my_customer
    assert (await _quote_events(staff_on_a, quote)) == mine_seen

    # A change that rolls back is never numbered nor sent; the next commit follows directly.
    with pytest.raises(LookupError):
        await _rolled_back(live_runtime)
    theirs_quote = await _quote(a, theirs, their_customer)
    # The other agent's first message is its own: it never got the first agent's events.
    theirs_seen = await _quote_events(other_on_b, theirs_quote)
    assert theirs_seen[0]["id"] == mine_seen[1]["id"] + 1
    assert (await _quote_events(staff_on_a, theirs_quote)) == theirs_seen

    # The first agent's next message is its own next change, not the other agent's.
    later = await _quote(a, mine, my_customer)
    assert (await _quote_events(on_b, later))[0]["id"] == theirs_seen[1]["id"] + 1
    for ws in (on_b, other_on_b, staff_on_a):
        await ws.close()


async def test_resuming_with_last_event_id_misses_nothing(
    servers: list[Server], live_runtime: Runtime
) -> None:
    a, b = servers
    agent = await _login(a, live_runtime, Role.AGENT)
    customer = await _customer(a, agent)
    ws = await _socket(b, agent)
    first = await _quote_events(ws, await _quote(a, agent, customer))
    await ws.close()

    missed = [await _quote(a, agent, customer) for _ in range(3)]  # while disconnected
    resumed = await _socket(a, agent, last_event_id=first[-1]["id"])  # the other server
    replayed = [await _next_event(resumed) for _ in range(6)]
    assert [e["aggregate_id"] for e in replayed] == [q for q in missed for _ in range(2)]
    live = await _quote(a, agent, customer)
    followed = await _quote_events(resumed, live)

    async with httpx.AsyncClient(base_url=a.http) as client:
        stream = await client.get(
            "/api/v1/events", params={"after": first[-1]["id"]}, headers=agent
        )
    assert stream.json()["items"] == replayed + followed  # same events, same order, no gap
    await resumed.send(json.dumps({"type": "ping"}))
    assert json.loads(await asyncio.wait_for(resumed.recv(), timeout=WAIT)) == {"type": "pong"}
    await resumed.close()


async def test_tickets_are_single_use_and_bad_input_closes(
    servers: list[Server], live_runtime: Runtime
) -> None:
    a, b = servers
    agent = await _login(a, live_runtime, Role.AGENT)
    ticket = await _ticket(a, agent)
    first = await _socket(a, agent, ticket=ticket)
    again = await _socket(a, agent, ticket=ticket)
    assert await _closed_with(again) == 4401
    for query in ("", "ticket=rt_forged", "ticket=nonsense"):
        bogus = await connect(f"{b.ws}/api/v1/realtime/ws?{query}", open_timeout=WAIT)
        assert await _closed_with(bogus) == 4401
    for bad in ("last_event_id=-1", "last_event_id=x", "type=quote.nonsense", "type=*"):
        fresh = await _ticket(b, agent)
        invalid = await connect(
            f"{b.ws}/api/v1/realtime/ws?ticket={fresh}&{bad}", open_timeout=WAIT
        )
        assert await _closed_with(invalid) == 4422, bad
    async with httpx.AsyncClient(base_url=a.http) as client:
        assert (await client.post("/api/v1/realtime/tickets")).status_code == 401
    if os.environ.get("REDIS_URL"):  # tickets in Redis: any server redeems one, once
        shared = await _ticket(a, agent)
        elsewhere = await _socket(b, agent, ticket=shared)
        customer = await _customer(a, agent)
        await _quote_events(elsewhere, await _quote(a, agent, customer))
        reused = await _socket(a, agent, ticket=shared)
        assert await _closed_with(reused) == 4401
        await elsewhere.close()
    await first.close()


async def _ends_unheard(ws: ClientConnection, quote_id: str) -> None:
    """The socket closes with 4401 and never carries the quote made after its end."""
    received, code = await _until_closed(ws)
    assert code == 4401
    assert quote_id not in {e["aggregate_id"] for e in received}


async def test_a_revoked_api_client_loses_its_socket_and_its_unused_tickets(
    servers: list[Server], live_runtime: Runtime
) -> None:
    a, b = servers
    admin = await _login(a, live_runtime, Role.ADMIN)
    agent = await _login(a, live_runtime, Role.AGENT)
    customer = await _customer(a, agent)
    client_id, bearer = await _api_client(a, admin, (await _me(a, agent))["id"])
    feed = {"Authorization": bearer}
    ws = await _socket(b, feed)
    await _quote_events(ws, await _quote(a, agent, customer))  # it follows the agent's book
    bought = await _ticket(a, feed)  # before the revocation, used after it

    await _post(a, f"/api/v1/api-clients/{client_id}/revocation", admin)
    await _ends_unheard(ws, await _quote(a, agent, customer))
    assert await _closed_with(await _socket(b, {}, ticket=bought)) == 4401


async def test_logging_out_or_being_deactivated_ends_the_socket(
    servers: list[Server], live_runtime: Runtime
) -> None:
    a, b = servers
    admin = await _login(a, live_runtime, Role.ADMIN)
    agent = await _login(a, live_runtime, Role.AGENT)
    email = (await _me(a, agent))["email"]
    elsewhere = await _login(a, live_runtime, Role.AGENT, email=email)  # another session
    customer = await _customer(a, agent)
    leaving = await _socket(b, agent)
    staying = await _socket(a, elsewhere)
    bought = await _ticket(b, agent)

    await _post(a, "/api/v1/auth/logout", agent)
    quote = await _quote(a, elsewhere, customer)
    await _ends_unheard(leaving, quote)
    await _quote_events(staying, quote)  # the agent's other session goes on
    assert await _closed_with(await _socket(a, {}, ticket=bought)) == 4401

    underwriter = await _login(b, live_runtime, Role.UNDERWRITER)
    watching = await _socket(a, underwriter)
    user_id = (await _me(b, underwriter))["id"]
    await _post(b, f"/api/v1/users/{user_id}/deactivation", admin)
    await _ends_unheard(watching, await _quote(a, elsewhere, customer))
    await staying.close()


async def test_the_latency_benchmark_hears_every_commit(
    servers: list[Server], live_runtime: Runtime
) -> None:
    _, b = servers
    admin = await _login(b, live_runtime, Role.ADMIN)
    figures = await measure_latency(b.http, live_runtime.db.url, admin, samples=10)
    assert figures["received"] == 10
    assert figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="a ticket made here needs Redis")
async def test_a_socket_ends_with_the_access_token_behind_its_ticket(
    servers: list[Server], live_runtime: Runtime
) -> None:
    """A ticket carries its token's expiry; the socket closes then (4401: get a new ticket)."""
    a, _ = servers
    headers = await _login(a, live_runtime, Role.ADJUSTER)
    verified = live_runtime.signer.verify(headers["Authorization"].removeprefix("Bearer "))
    assert verified is not None
    user, sid = (uuid.UUID(str(verified.claims[c])) for c in ("sub", "sid"))
    actor = Actor.user(user, Role.ADJUSTER, permissions_for(Role.ADJUSTER))
    cache = create_cache(os.environ["REDIS_URL"])
    try:
        soon = datetime.now(UTC) + timedelta(seconds=2)
        issued = await realtime.issue_ticket(cache, actor, valid_until=soon, session_id=sid)
    finally:
        await cache.close()
    ws = await _socket(a, {}, ticket=issued.ticket)
    assert await _closed_with(ws) == 4401
    assert datetime.now(UTC) >= soon.replace(microsecond=0)  # kept to the second


async def test_in_process_replay_ping_and_a_client_that_falls_behind(
    committed_runtime: Runtime,
) -> None:
    """The same protocol with the server in this process (its fan-out's queues made small):
    a batch larger than a socket's queue ends that socket with 4408, and it resumes."""
    runtime = committed_runtime
    queue = await runtime.queue.ready()
    app = create_app(runtime=runtime)
    app.state.realtime_hub = Hub(capacity=3, poll_seconds=0.5)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    local = Server(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")
    try:
        await _until(lambda: server.started)
        admin = await _login(local, runtime, Role.ADMIN)

        async def company_events(count: int) -> None:
            async with runtime.db.unit_of_work() as session:
                for n in range(count):
                    emit(session, "product_version.approved", "product_version", str(n), {})
            await relay_pending(runtime.db, queue, ())

        await company_events(2)
        ws = await _socket(local, admin, last_event_id=0)
        replayed = [await _next_event(ws) for _ in range(2)]
        assert [e["id"] for e in replayed] == [1, 2]
        await ws.send(json.dumps({"type": "ping"}))
        while json.loads(await asyncio.wait_for(ws.recv(), timeout=WAIT))["type"] != "pong":
            pass
        head = await _stream_head(local, admin)
        hub: Hub = app.state.realtime_hub
        await _until(lambda: hub.connections == 1)  # replayed, and now following the hub
        await company_events(10)  # one batch of ten: more than the socket's queue holds
        assert await _closed_with(ws) == 4408
        resumed = await _socket(local, admin, last_event_id=head)
        assert [(await _next_event(resumed))["id"] for _ in range(10)] == list(
            range(head + 1, head + 11)
        )
        async with runtime.db.unit_of_work() as session:  # the webhooks' internal message
            emit(session, "webhook.replay_requested", "webhook_subscription", "s", {})
        await company_events(1)
        after_it = await _next_event(resumed)
        assert (after_it["id"], after_it["type"]) == (head + 12, "product_version.approved")
        await resumed.close()
    finally:
        server.should_exit = True
        await serving


async def _until(condition: Callable[[], bool]) -> None:
    """Poll the in-process server's state (it offers no event to wait on)."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def _stream_head(server: Server, headers: dict[str, str]) -> int:
    async with httpx.AsyncClient(base_url=server.http) as client:
        page = await client.get("/api/v1/events", params={"limit": 1000}, headers=headers)
    return int(page.json()["next_cursor"])
