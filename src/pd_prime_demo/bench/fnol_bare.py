"""The bare endpoint of ``pd-prime bench fnol``: FastAPI validates the same body as
``POST /api/v1/claims``, the token is verified and its login session checked, and one asyncpg
transaction writes the same rows (the claim numbered from the same sequence, the encrypted
parties, the vehicles, the status rows, the assignment to the least loaded adjuster under the
same lock, chained audit entries and outbox events). No ORM, no policy history, no coverage
check, no fraud indicators. See ``bench.fnol``."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import asyncpg
import fastapi
from fastapi import FastAPI, Header, HTTPException

from pd_prime_demo.claims.schemas_fnol import ClaimCreate
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.runtime import Runtime

FNOL_APP = "pd_prime_demo.bench.fnol_bare:bench_fnol_app_factory"
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
    # The choice by workload under the lock the service takes (claims.service.assignment).
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "claims.assignment.workload"
    )
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
