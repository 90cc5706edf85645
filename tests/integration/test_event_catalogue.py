"""The catalogue holds every event type the code emits, and every payload matches its schema.

A policy's life (the state machine's steps, walked by hand on every payment plan: bind, pay,
endorse, back-dated and out of sequence, cancel, reinstate, renew, the daily jobs), the demo
book, the queue worker drawing documents and one failing are run on a scratch database; then
every event in its outbox is checked against the catalogue: its type is listed, its payload
validates against the published JSON Schema, and against the strict model (so no member goes
undocumented), and whose it is matches the type's documented visibility.
"""

from __future__ import annotations

import ast
import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.database import Database, run_migrations_async
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.documents import service as documents
from pd_prime_demo.events.catalogue import CATALOGUE, FAMILIES, PUBLISHED, schemas
from pd_prime_demo.main import create_app
from pd_prime_demo.policies import service as policies
from pd_prime_demo.policies.enums import ConflictResolution
from pd_prime_demo.quotes import service as quotes
from pd_prime_demo.quotes.schemas import UnderwritingDecision
from pd_prime_demo.seed import seed_demo, seed_products
from pd_prime_demo.worker import run_once
from tests.conftest import create_scratch_database, drop_scratch_database, make_settings
from tests.integration.test_lifecycle_stateful import PolicyLife

ACTOR = Actor.system("catalogue-test")
SRC = Path(__file__).resolve().parents[2] / "src" / "pd_prime_demo"

# What this run must have shown, so that the test cannot pass on an empty outbox.
MUST_SEE = {
    "quote.created",
    "quote.quoted",
    "quote.referred",
    "quote.bound",
    "quote.approved",
    "policy.non_renewal",
    "policy.new_business",
    "policy.endorsement",
    "policy.cancellation",
    "policy.reinstatement",
    "policy.renewal",
    "policy.reversal",
    "policy.renewal_offered",
    "billing.invoiced",
    "billing.payment_received",
    "document.requested",
    "document.ready",
    "document.failed",
    "product_version.approved",
    "product_version.active",
}


def _emitted_topics() -> Iterator[tuple[str, ast.expr]]:
    for path in SRC.rglob("*.py"):
        if path.is_relative_to(SRC / "bench"):  # benchmarks publish synthetic events
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "emit"
                and len(node.args) >= 2
            ):
                yield f"{path.relative_to(SRC)}:{node.lineno}", node.args[1]


def test_every_topic_written_in_the_code_is_catalogued() -> None:
    """Literal topics must be listed; an f-string topic's family must be (its values are
    checked by the run below); a topic in a variable is left to the run."""
    checked = 0
    for where, topic in _emitted_topics():
        if isinstance(topic, ast.Constant):
            assert topic.value in CATALOGUE, f"{where}: {topic.value!r} is not in the catalogue"
            checked += 1
        elif isinstance(topic, ast.JoinedStr) and isinstance(topic.values[0], ast.Constant):
            prefix = str(topic.values[0].value)
            assert prefix.endswith("."), where
            assert prefix[:-1] in FAMILIES, f"{where}: no {prefix}* type in the catalogue"
            checked += 1
    assert checked >= 15


@pytest.fixture
def life_url(server_url: str) -> Iterator[str]:
    async def create() -> str:
        url = await create_scratch_database(server_url)
        await run_migrations_async(url)
        return url

    url = asyncio.run(create())
    yield url
    asyncio.run(drop_scratch_database(server_url, url))


def _live_a_policy(plan: str) -> None:
    machine = PolicyLife()
    try:
        machine.bind(plan)
        machine.time_passes(20)
        machine.daily_jobs()
        machine.pay(40_000)
        machine.endorse(5, "100/300", "100", ConflictResolution.REFUSE)
        machine.endorse(-10, "50/100", "50", ConflictResolution.KEEP_LATER)  # out of sequence
        machine.cancel(10, "insured_request", ConflictResolution.REFUSE)
        machine.reinstate(0)
        machine.renewal_comes_near(30)
        machine.daily_jobs()
        machine.renew()
        machine.time_passes(40)
        machine.daily_jobs()
    finally:
        machine.teardown()


async def _demo_book_documents_and_jobs(url: str) -> None:
    db = Database(create_async_engine(url, pool_size=5))
    runtime = Runtime.create(make_settings(url, redis_url=None), db=db)
    try:
        async with db.unit_of_work() as session:
            await seed_demo(session, runtime)
        async with db.unit_of_work() as session:
            referred = await _first(session, "quote.referred")
            decision = UnderwritingDecision(decision="approve", note="seen the garage")
            approved = await quotes.decide_referral(session, referred, decision, actor=ACTOR)
            assert isinstance(approved, Ok), approved
            maria = await _first(session, "policy.new_business", newest=True)
            ending = await policies.non_renew(session, maria, reason="moving", actor=ACTOR)
            assert isinstance(ending, Ok), ending
        async with db.unit_of_work() as session:
            requested = (
                await session.execute(
                    text(
                        "SELECT aggregate_id FROM outbox_events "
                        "WHERE topic = 'document.requested' ORDER BY id LIMIT 1"
                    )
                )
            ).scalar_one()
            await documents.mark_failed(session, uuid.UUID(requested), "the printer caught fire")
        await run_once(runtime)  # relays, draws the documents (the failed one again)
        await run_once(runtime)  # publishes what the jobs emitted
    finally:
        await runtime.close()


async def _first(session: AsyncSession, topic: str, *, newest: bool = False) -> uuid.UUID:
    order = "DESC" if newest else "ASC"
    found = await session.execute(
        text(f"SELECT aggregate_id FROM outbox_events WHERE topic = :t ORDER BY id {order}"),
        {"t": topic},
    )
    return uuid.UUID(found.scalars().first())


def _outbox(url: str) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(
                    text("SELECT topic, payload, customer_id FROM outbox_events ORDER BY id")
                )
                return [dict(row._mapping) for row in rows]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_every_event_of_a_policy_life_matches_its_schema(life_url: str) -> None:
    async def products() -> None:
        db = Database(create_async_engine(life_url))
        async with db.unit_of_work() as session:
            await seed_products(session)
        await db.dispose()

    asyncio.run(products())
    PolicyLife.url = life_url
    for plan in ("annual", "monthly", "quarterly"):
        _live_a_policy(plan)
    asyncio.run(_demo_book_documents_and_jobs(life_url))

    rows = _outbox(life_url)
    published = schemas()
    seen: set[str] = set()
    for row in rows:
        topic, payload = row["topic"], row["payload"]
        assert topic in CATALOGUE, f"{topic} is emitted but not in the catalogue"
        entry = CATALOGUE[topic]
        jsonschema.validate(payload, published[topic])  # the public contract
        entry.payload.model_validate(payload)  # strict: every member is documented
        owned = row["customer_id"] is not None
        assert owned == (entry.visibility == "customer"), (topic, row["customer_id"])
        seen.add(topic)
    assert seen >= MUST_SEE, sorted(MUST_SEE - seen)


async def test_the_catalogue_and_the_asyncapi_document_are_served(client: AsyncClient) -> None:
    listed = await client.get("/api/v1/events/types")
    assert listed.status_code == 200
    types = {t["name"]: t for t in listed.json()["items"]}
    assert set(types) == set(PUBLISHED)
    assert "webhook.replay_requested" not in types  # internal: the webhooks' own message
    assert types["webhook.subscription_disabled"]["visibility"] == "admin"
    endorsement = types["policy.endorsement"]
    assert endorsement["family"] == "policy"
    assert endorsement["visibility"] == "customer"
    assert "premium_change" in endorsement["payload_schema"]["required"]
    for entry in types.values():
        jsonschema.Draft7Validator.check_schema(entry["payload_schema"])
    billing = (await client.get("/api/v1/events/types", params={"family": "billing"})).json()
    assert {t["name"] for t in billing["items"]} == {
        n for n in PUBLISHED if n.startswith("billing.")
    }
    unknown = await client.get("/api/v1/events/types", params={"family": "claims"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["parameter"].startswith("family")

    document = (await client.get("/asyncapi.json")).json()
    assert document["asyncapi"] == "3.0.0"
    assert document["servers"]["api"]["protocol"] == "ws"
    channel = document["channels"]["liveUpdates"]
    assert channel["address"] == "/api/v1/realtime/ws"
    assert set(PUBLISHED) <= set(channel["messages"])
    assert "webhook.replay_requested" not in channel["messages"]
    assert "webhook.replay_requested" not in document["components"]["schemas"]
    _every_reference_resolves(document, document)
    for name in PUBLISHED:
        payload = document["components"]["messages"][name]["payload"]
        jsonschema.Draft7Validator.check_schema(payload)
        assert payload["properties"]["type"] == {"const": name}
    assert "/asyncapi.json" not in (await client.get("/openapi.json")).json()["paths"]


def _every_reference_resolves(node: Any, document: dict[str, Any]) -> None:
    if isinstance(node, dict):
        if isinstance(ref := node.get("$ref"), str):
            target: Any = document
            for part in ref.removeprefix("#/").split("/"):
                assert part in target, ref
                target = target[part]
        for value in node.values():
            _every_reference_resolves(value, document)
    elif isinstance(node, list):
        for value in node:
            _every_reference_resolves(value, document)


async def test_the_openapi_document_describes_the_stream(runtime: Runtime) -> None:
    app = create_app(runtime=runtime)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/api/v1/events", "/api/v1/events/types", "/api/v1/events/{position}"} <= set(paths)
    assert "/api/v1/realtime/tickets" in paths
    stream = paths["/api/v1/events"]["get"]
    assert {p["name"] for p in stream["parameters"]} == {"after", "type", "limit"}
