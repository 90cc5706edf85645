"""A webhook receiver for the tests, on a local port, and helpers to drive deliveries: it
verifies every signature with ``standardwebhooks`` as a customer's receiver would."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from pd_prime_demo.webhooks import service
from pd_prime_demo.worker import run_once, run_worker
from tests.api.test_webhook_subscriptions import SUBSCRIPTIONS, bearer, register_client
from tests.factories import Login, auto_quote, person, user_login


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_with: list[str]

    @property
    def message(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: per path, the secrets it trusts and how it answers
    (``ok``: 200 if a signature verifies, ``fail``: 500, ``slow``: no answer for a while)."""

    port: int = 0
    secrets: dict[str, list[str]] = field(default_factory=dict)
    behaviour: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            path = head[0].split(" ")[1]
            headers = {
                name.strip().lower(): value.strip()
                for name, value in (line.split(":", 1) for line in head[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            verified = []
            for secret in self.secrets.get(path, []):
                try:
                    Webhook(secret).verify(body, headers)
                    verified.append(secret)
                except WebhookVerificationError:
                    pass
            self.received.append(Received(path, headers, body, verified))
            behaviour = self.behaviour.get(path, "ok")
            if behaviour == "slow":
                await asyncio.sleep(3)
            status = 200 if behaviour == "ok" and verified else 500
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".encode()
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def listening() -> AsyncIterator[Receiver]:
    found = Receiver()
    server = await asyncio.start_server(found.handle, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    yield found
    server.close()
    await server.wait_closed()


@asynccontextmanager
async def api(runtime: Runtime) -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=create_app(runtime=runtime), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def subscribe(
    client: AsyncClient,
    receiver: Receiver,
    headers: dict[str, str],
    path: str,
    event_types: list[str],
) -> dict[str, Any]:
    made = await client.post(
        SUBSCRIPTIONS,
        json={"url": receiver.url(path), "event_types": event_types},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    receiver.secrets[path] = [made.json()["secret"]]
    return dict(made.json())


async def quote_for_new_customer(client: AsyncClient, agent: Login) -> tuple[str, str]:
    customer = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    assert customer.status_code == 201, customer.text
    quote = await client.post(
        "/api/v1/quotes", json=auto_quote(customer.json()["id"]), headers=agent.headers
    )
    assert quote.status_code == 201, quote.text
    return customer.json()["id"], quote.json()["id"]


async def failing_subscription(
    client: AsyncClient, runtime: Runtime, receiver: Receiver
) -> tuple[Login, dict[str, Any]]:
    """An agent's API client subscribed to ``quote.created`` at a receiver path that answers
    500, and one quote made for it to announce: (the agent, the subscription)."""
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    agency = await register_client(client, admin, agent)
    subscription = await subscribe(client, receiver, bearer(agency), "/down", ["quote.created"])
    receiver.behaviour["/down"] = "fail"
    await quote_for_new_customer(client, agent)
    return agent, subscription


async def rows(runtime: Runtime, sql: str, **params: Any) -> list[Any]:
    async with runtime.db.sessionmaker() as session:
        return list((await session.execute(text(sql), params)).all())


async def work(runtime: Runtime) -> None:
    """What the worker does in time: the sweeps once, then the relay and every job due, until
    none is left (a worker round stops at the first moment it finds no job, and the jobs it
    ran may have deferred more: a delivery's after its event's fan-out)."""
    await run_once(runtime)
    for _ in range(10):
        ((due,),) = await rows(
            runtime,
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' "
            "AND (scheduled_at IS NULL OR scheduled_at <= now())",
        )
        if not due:
            return
        await run_worker(runtime, wait=False, install_signal_handlers=False)
    raise AssertionError("the queue did not drain")


async def fan_out_all(runtime: Runtime) -> list[uuid.UUID]:
    """Every committed event fanned out, without the worker: the deliveries made."""
    made: list[uuid.UUID] = []
    for (event_id,) in await rows(runtime, "SELECT id FROM outbox_events ORDER BY id"):
        async with runtime.db.unit_of_work() as session:
            made += await service.fan_out(session, event_id, now=clock.now())
    return made


async def rolled_back_change(runtime: Runtime, customer_id: uuid.UUID) -> None:
    """A change of the customer's that fails after announcing itself."""

    async def change() -> None:
        async with runtime.db.unit_of_work() as session:
            emit(session, "quote.created", "quote", "rolled-back", customer_id=customer_id)
            raise RuntimeError("the change fails")

    with pytest.raises(RuntimeError):
        await change()
