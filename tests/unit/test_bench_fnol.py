"""The FNOL benchmark's building blocks: the request it files is a valid claim, the bare write
puts down the rows first notice of loss does (and an audit chain that still verifies), and the
report prints each endpoint and the ratios (no timed assertions)."""

from __future__ import annotations

import copy
import uuid
from datetime import date, timedelta

import asyncpg
from sqlalchemy import make_url

from pd_prime_demo.audit import service as audit
from pd_prime_demo.bench.fnol import claim_request, report
from pd_prime_demo.bench.fnol_bare import write_bare_claim
from pd_prime_demo.bench.load import Comparison, Run
from pd_prime_demo.claims.schemas_fnol import ClaimCreate
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers import service as customers
from pd_prime_demo.customers.schemas import PersonCreate
from pd_prime_demo.policies import service as policies
from pd_prime_demo.quotes import service as quotes
from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE, QuoteCreate
from tests.factories import create_user, person


def test_the_request_is_a_valid_claim_on_the_loss_day() -> None:
    policy_id = str(uuid.uuid4())
    body = ClaimCreate.model_validate(claim_request(policy_id, date(2026, 11, 30)))
    assert str(body.policy_id) == policy_id
    assert body.loss_at.date() == date(2026, 11, 30)
    assert body.vehicles[1].owner_party == 1


def test_the_report_prints_figures_and_ratios() -> None:
    compared = Comparison(Run(50.0, 0, 20.0), Run(200.0, 1, 4.0))
    lines = report(compared, Run(1000.0, 0, 1.0))
    assert lines[1].split()[:4] == ["POST", "/api/v1/claims", "50.0", "req/s"]
    assert "FNOL / bare throughput: 25%" in lines[3]
    assert "FNOL / bare server CPU per request: 5.0x" in lines[4]
    assert "FNOL / echo throughput: 5%" in lines[5]


async def _policy(runtime: Runtime) -> uuid.UUID:
    actor = Actor.system("bench-test")
    async with runtime.db.unit_of_work() as session:
        created = await customers.create_customer(
            session, PersonCreate.model_validate(person()), actor=actor, cipher=runtime.cipher
        )
        assert isinstance(created, Ok), created
        body = copy.deepcopy(AUTO_EXAMPLE)
        body["customer_id"] = str(created.value.id)
        body["effective_on"] = date.today().isoformat()
        quote = await quotes.create_quote(session, QuoteCreate.model_validate(body), actor=actor)
        assert isinstance(quote, Ok), quote
        bound = await policies.bind_quote(
            session, quote.value.id, option="standard", payment_plan="annual", actor=actor
        )
        assert isinstance(bound, Ok), bound
        return bound.value.policy.id


async def test_the_bare_write_puts_down_the_rows_of_a_claim(committed_runtime: Runtime) -> None:
    runtime = committed_runtime
    policy_id = await _policy(runtime)
    adjuster = await create_user(runtime, Role.ADJUSTER)
    body = ClaimCreate.model_validate(
        claim_request(str(policy_id), date.today() - timedelta(days=1))
    )
    url = make_url(runtime.settings.database_url or "").set(drivername="postgresql")
    conn = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        async with conn.transaction():
            claim_id, number = await write_bare_claim(
                conn, body, actor_id="user:bench", role="agent", cipher=runtime.cipher
            )
        claim = await conn.fetchrow("SELECT * FROM claims WHERE id = $1", claim_id)
        assert claim["number"] == number
        assert number.startswith("PAC-")
        assert (claim["status"], claim["adjuster_id"]) == ("open", adjuster)
        counts = [
            await conn.fetchval(f"SELECT count(*) FROM {table} WHERE claim_id = $1", claim_id)
            for table in (
                "claim_parties",
                "claim_involved",
                "claim_status_history",
                "claim_assignments",
            )
        ]
        assert counts == [2, 2, 2, 1]
        contact = await conn.fetchval(
            "SELECT contact_enc FROM claim_parties WHERE claim_id = $1 AND role = 'claimant'",
            claim_id,
        )
        assert "robin@example.com" not in contact, "contacts are stored encrypted"
        topics = await conn.fetch(
            "SELECT topic FROM outbox_events WHERE aggregate_id = $1 ORDER BY id", str(claim_id)
        )
        assert [t["topic"] for t in topics] == [
            "claim.reported",
            "claim.assigned",
            "claim.status_changed",
        ]
    finally:
        await conn.close()
    async with runtime.db.sessionmaker() as session:
        verified = await audit.verify_chain(session)
    assert verified.ok, verified
