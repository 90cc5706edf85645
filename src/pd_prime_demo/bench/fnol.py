"""``pd-prime bench fnol``: first notice of loss through the real server beside a bare endpoint
doing the same writes, as ``bench api`` does for quotes and binds.

Starts uvicorn on a throwaway database with the demo data and drives, for the same duration and
concurrency, in alternating rounds (``bench.load.compare``):

* ``POST /api/v1/claims`` as the demo agent on a policy of their book in force (validate,
  authenticate, find the policy the agent may see, read its history on the loss date and the
  product's causes of loss, check cover, the fraud indicators' queries, encrypt the parties'
  contacts, write the claim, its parties, vehicles and first status row, assign the adjuster with
  the fewest open claims, the audit entries and outbox events; through the ORM);
* ``/bench/bare/claims``: FastAPI validates the same body, the token is verified and its login
  session checked, and one asyncpg transaction writes the same rows: the claim (numbered from
  the same sequence), the encrypted parties, the vehicles, the two status rows (reported, then
  open), the assignment to the least loaded adjuster, three chained audit entries and three
  outbox events. No ORM, no policy history, no coverage check, no fraud indicators;
* an echo of the same body (validation alone), for the client and framework floor.

It prints requests per second, the server's CPU time per request and the ratios; with
``--callgrind`` the server's instructions per request too (see ``bench.load``).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
import fastapi
import httpx
from fastapi import FastAPI, Header, HTTPException

from pd_prime_demo.bench.api import (
    Launch,
    Meters,
    _always,
    _client,
    _ready,
    free_port,
    server_command,
)
from pd_prime_demo.bench.load import (
    Comparison,
    Request,
    Run,
    ServerCpu,
    ServerInstructions,
    compare,
    describe,
    describe_ratio,
    drive,
)
from pd_prime_demo.claims.schemas_fnol import ClaimCreate
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.runtime import Runtime

FNOL_APP = "pd_prime_demo.bench.fnol:bench_fnol_app_factory"
ZONE = "America/New_York"


def bench_fnol_app_factory() -> FastAPI:
    """The normal app plus the echo and bare FNOL routes (served only by this benchmark)."""
    from pd_prime_demo.main import app_factory

    app = app_factory()

    @app.post("/bench/echo-claim", include_in_schema=False)
    async def echo_claim(body: ClaimCreate) -> ClaimCreate:
        return body

    @app.post("/bench/bare/claims", include_in_schema=False, status_code=201)
    async def bare_claim(
        body: ClaimCreate, request: fastapi.Request, authorization: Annotated[str, Header()]
    ) -> dict[str, str]:
        runtime: Runtime = request.app.state.runtime
        from pd_prime_demo.bench.policies import bare_pool

        user = await _live_user(runtime, authorization)
        async with (await bare_pool()).acquire() as conn, conn.transaction():
            claim_id, number = await write_bare_claim(
                conn, body, actor_id=f"user:{user[0]}", role=user[1], cipher=runtime.cipher
            )
        return {"id": str(claim_id), "number": number}

    return app


_LIVE_SESSION_SQL = (
    "SELECT u.id, u.role FROM users u JOIN auth_sessions s ON s.user_id = u.id "
    "WHERE u.id = $1 AND u.is_active AND s.id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3"
)


async def _live_user(runtime: Runtime, authorization: str) -> tuple[uuid.UUID, str]:
    from pd_prime_demo.bench.policies import bare_pool
    from pd_prime_demo.core import clock

    verified = runtime.signer.verify(authorization.removeprefix("Bearer "))
    now = clock.now()
    if verified is None or int(verified.claims["exp"]) < now.timestamp():
        raise HTTPException(401)
    row = await (await bare_pool()).fetchrow(
        _LIVE_SESSION_SQL,
        uuid.UUID(str(verified.claims["sub"])),
        uuid.UUID(str(verified.claims["sid"])),
        now,
    )
    if row is None:
        raise HTTPException(401)
    return row["id"], row["role"]


_CLAIM_SQL = (
    "INSERT INTO claims (id, serial, number, policy_id, customer_id, product_code, state, "
    "loss_at, loss_on, loss_time_zone, cause_code, location, description, reported_at, "
    "reported_by, reported_via, coverage_status, coverage_findings, fraud_indicators, status, "
    "adjuster_id, version, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
    "$12, $13, $14, $15, 'agent', 'verified', '[]', '[]', $16, $17, $18, $14)"
)
_LEAST_LOADED_SQL = (
    "SELECT u.id FROM users u LEFT JOIN claims c ON c.adjuster_id = u.id AND c.status <> "
    "'closed' WHERE u.role = 'adjuster' AND u.is_active GROUP BY u.id ORDER BY count(c.id), "
    "u.id LIMIT 1"
)


def audit_entries(
    actor_id: str, role: str, claim_id: uuid.UUID, number: str, now: datetime
) -> list[dict[str, Any]]:
    """The three chained audit entries of a claim filed and assigned (``audit_chain_append``)."""
    from pd_prime_demo.audit.rules import ChainFields
    from pd_prime_demo.audit.service import chain_entry

    return [
        chain_entry(
            ChainFields(now, "user", actor_id, role, action, "claim", str(claim_id), None, c)
        )
        for action, c in (
            ("claim.reported", {"number": number}),
            ("claim.assigned", {"by_workload": True}),
            ("claim.status_changed", {"from": "reported", "to": "open"}),
        )
    ]


async def write_bare_claim(
    conn: asyncpg.Connection,
    body: ClaimCreate,
    *,
    actor_id: str,
    role: str,
    cipher: FieldCipher,
) -> tuple[uuid.UUID, str]:
    """The rows first notice of loss writes, in SQL on one connection (the caller's
    transaction): the claim and its number, parties, vehicles, status history, assignment,
    audit entries and outbox events. Returns the claim's id and number."""
    from pd_prime_demo.audit.service import AUDIT_CHAIN_LOCK
    from pd_prime_demo.core import clock

    now = clock.now()
    policy = await conn.fetchrow(
        "SELECT customer_id, product_code, state FROM policies WHERE id = $1", body.policy_id
    )
    if policy is None:
        raise HTTPException(404)
    adjuster = await conn.fetchval(_LEAST_LOADED_SQL)
    serial = await conn.fetchval("SELECT nextval('claim_number_seq')")
    prefix = "PAC" if policy["product_code"] == "personal_auto" else "HOC"
    claim_id, number = uuid.uuid4(), f"{prefix}-{now.year}-{serial}"
    await conn.execute(
        _CLAIM_SQL,
        claim_id,
        serial,
        number,
        body.policy_id,
        policy["customer_id"],
        policy["product_code"],
        policy["state"],
        body.loss_at,
        body.loss_at.astimezone(ZoneInfo(body.time_zone)).date(),
        body.time_zone,
        body.cause_code,
        body.location.model_dump_json(exclude_none=True),
        body.description,
        now,
        actor_id,
        "open" if adjuster else "reported",
        adjuster,
        2 if adjuster else 1,
    )
    parties = []
    for party in body.parties:
        party_id = uuid.uuid4()
        contact = None
        if party.contact is not None:
            plain = json.dumps(party.contact.model_dump(mode="json", exclude_none=True))
            contact = cipher.encrypt(plain, context=f"claim_parties.contact:{party_id}")
        parties.append(
            (party_id, claim_id, party.role.value, party.name, contact, party.injured, now)
        )
    await conn.executemany(
        "INSERT INTO claim_parties (id, claim_id, role, name, contact_enc, injured, created_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
        parties,
    )
    await conn.executemany(
        "INSERT INTO claim_involved (id, claim_id, kind, policy_unit, owner_party_id, "
        "description, damage, created_at) VALUES ($1, $2, 'vehicle', $3, $4, $5, $6, $7)",
        [
            (
                uuid.uuid4(),
                claim_id,
                v.policy_unit,
                parties[v.owner_party][0] if v.owner_party is not None else None,
                v.description or f"Insured vehicle {v.policy_unit}",
                v.damage,
                now,
            )
            for v in body.vehicles
        ],
    )
    moves: list[tuple[uuid.UUID, str | None, str, str, str, datetime]] = [
        (claim_id, None, "reported", "first notice of loss", actor_id, now)
    ]
    if adjuster:
        moves.append((claim_id, "reported", "open", "", actor_id, now))
        await conn.execute(
            "INSERT INTO claim_assignments (claim_id, adjuster_id, actor_id, at) "
            "VALUES ($1, $2, $3, $4)",
            claim_id,
            adjuster,
            actor_id,
            now,
        )
    await conn.executemany(
        "INSERT INTO claim_status_history (claim_id, from_status, to_status, reason, actor_id, "
        "at) VALUES ($1, $2, $3, $4, $5, $6)",
        moves,
    )
    await conn.execute(
        "SELECT audit_chain_append($1, $2::jsonb)",
        AUDIT_CHAIN_LOCK,
        json.dumps(audit_entries(actor_id, role, claim_id, number, now)),
    )
    await conn.executemany(
        "INSERT INTO outbox_events (occurred_at, topic, aggregate_type, aggregate_id, payload, "
        "customer_id) VALUES ($1, $2, 'claim', $3, $4, $5)",
        [
            (
                now,
                topic,
                str(claim_id),
                json.dumps({"claim_id": str(claim_id), "number": number}),
                cid,
            )
            for topic, cid in (
                ("claim.reported", policy["customer_id"]),
                ("claim.assigned", None),
                ("claim.status_changed", policy["customer_id"]),
            )
        ],
    )
    return claim_id, number


def claim_request(policy_id: str, loss_on: date) -> dict[str, Any]:
    """A liability claim on the policy's first vehicle with a third party's car: what the
    benchmark files (valid for ``ClaimCreate``)."""
    return {
        "policy_id": policy_id,
        "loss_at": datetime.combine(loss_on, time(17), tzinfo=ZoneInfo(ZONE)).isoformat(),
        "time_zone": ZONE,
        "cause_code": "liability",
        "location": {
            "line1": "Easton Town Center, garage B",
            "city": "Columbus",
            "state": "OH",
            "postal_code": "43219",
        },
        "description": "Reversing out of a parking space, backed into a parked car.",
        "parties": [
            {"role": "driver", "name": "Casey Customer"},
            {
                "role": "claimant",
                "name": "Robin Patel",
                "contact": {"phone": "+1 614 555 0188", "email": "robin@example.com"},
            },
        ],
        "vehicles": [
            {"policy_unit": 0, "damage": "Rear bumper scuffed"},
            {"description": "Grey 2021 Toyota RAV4", "owner_party": 1, "damage": "Door dented"},
        ],
    }


def report(compared: Comparison, echoed: Run) -> list[str]:
    """The lines the benchmark prints: each endpoint, then the ratios."""
    lines = [
        describe("echo (validate + echo)", echoed),
        describe("POST /api/v1/claims", compared.real),
        describe("bare (raw SQL, same rows)", compared.baseline),
        describe_ratio("FNOL / bare throughput", compared),
    ]
    if compared.real.server_cpu_ms and compared.baseline.server_cpu_ms:
        cpu = compared.real.server_cpu_ms / compared.baseline.server_cpu_ms
        lines.append(f"  FNOL / bare server CPU per request: {cpu:.1f}x")
    if echoed.rate:
        lines.append(f"  FNOL / echo throughput: {compared.real.rate / echoed.rate:.0%}")
    return lines


async def _agent_and_policy(client: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """The demo agent's bearer headers and a policy of their book in force today."""
    from pd_prime_demo.seed import DEMO_PASSWORD

    tokens = (
        await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "agent@demo.pdprime.example",
                "password": DEMO_PASSWORD,
            },
        )
    ).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    listed = (await client.get("/api/v1/policies", headers=headers)).json()["items"]
    today = date.today().isoformat()
    for policy in listed:
        if policy["inception_on"] < today and policy["status"] == "in_force":
            return headers, str(policy["id"])
    raise RuntimeError("the demo agent has no policy in force")


async def _run(
    base: str, seconds: float, concurrency: int, echo: Callable[[str], object], meters: Meters
) -> dict[str, float]:
    cpu, instructions = meters
    async with _client(base, concurrency, slow=instructions is not None) as client:
        await _ready(client, patient=instructions is not None)
        headers, policy_id = await _agent_and_policy(client)
        body = claim_request(policy_id, date.today() - timedelta(days=1))
        probe = await client.post("/api/v1/claims", json=body, headers=headers)
        if probe.status_code != 201:
            raise RuntimeError(f"the probe claim failed: {probe.status_code} {probe.text}")
        real: Request = ("POST", "/api/v1/claims", body, headers)
        bare: Request = ("POST", "/bench/bare/claims", body, headers)
        echoed: Request = ("POST", "/bench/echo-claim", body, headers)
        for request in (real, bare, echoed):  # warm up
            await drive(client, _always(request), seconds=0.5, concurrency=concurrency)
        compared = await compare(
            client,
            _always(real),
            _always(bare),
            seconds=seconds,
            concurrency=concurrency,
            cpu=cpu,
            instructions=instructions,
        )
        echo_run = await drive(
            client,
            _always(echoed),
            seconds=seconds / 2,
            concurrency=concurrency,
            cpu=cpu,
            instructions=instructions,
        )
        for line in report(compared, echo_run):
            echo(line)
        return {
            "POST /api/v1/claims": compared.real.rate,
            "bare": compared.baseline.rate,
            "echo": echo_run.rate,
            "ratio": compared.ratio,
        }


def run_fnol_benchmark(
    *,
    seconds: float = 10,
    concurrency: int = 16,
    workers: int = 1,
    callgrind: bool = False,
    echo: Callable[[str], object] = print,
) -> dict[str, float]:
    """On a throwaway database created on the configured (or embedded) server, with the demo
    data (the agent's book, the demo adjuster)."""
    launch = server_command(free_port(), workers=workers, callgrind=callgrind, factory=FNOL_APP)
    from pd_prime_demo import bootstrap
    from pd_prime_demo.core.database import create_database, drop_database

    base = bootstrap.settings(demo=True)
    assert base.database_url is not None
    scratch = asyncio.run(create_database(base.database_url, f"pd_prime_bench_fnol_{os.getpid()}"))
    settings = base.model_copy(update={"database_url": scratch})
    env = {
        **os.environ,
        "DATABASE_URL": scratch,
        "PD_PRIME_ENV": "demo",
        "PD_PRIME_LOG_LEVEL": "WARNING",
        "PD_PRIME_DATA_DIR": str(settings.data_dir),
        "PD_PRIME_RATE_LIMITS_ENABLED": "false",
    }
    try:
        bootstrap.migrate(settings)
        asyncio.run(bootstrap.seed(settings))
        return _serve(env, launch, seconds, concurrency, echo)
    finally:
        asyncio.run(drop_database(base.database_url, scratch))


def _serve(
    env: dict[str, str],
    launch: Launch,
    seconds: float,
    concurrency: int,
    echo: Callable[[str], object],
) -> dict[str, float]:
    server = subprocess.Popen(launch.argv, env=env)  # noqa: S603 - our interpreter and module
    try:
        workers = f"{launch.workers} worker{'s' if launch.workers > 1 else ''}"
        echo(
            f"FNOL benchmark: uvicorn ({workers}{', under callgrind' if launch.callgrind else ''})"
            f" on :{launch.port}, {concurrency} concurrent clients, {seconds:.0f} s per endpoint"
        )
        meters: Meters = (
            ServerCpu(server.pid),
            ServerInstructions(server.pid) if launch.callgrind else None,
        )
        base_url = f"http://127.0.0.1:{launch.port}"
        return asyncio.run(_run(base_url, seconds, concurrency, echo, meters))
    finally:
        server.terminate()
        server.wait(timeout=300)
