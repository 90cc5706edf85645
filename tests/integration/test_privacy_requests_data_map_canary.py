"""The data map's canary: a person with distinctive values created through the real services
across customers, quotes, policies (bind), billing (a payment) and claims (first notice with a
description, a claimant and a third party's vehicle, and an adjuster's note); then every text,
varchar and JSON column of every table in the database is searched for those values. A column
that holds one and is not in the data map fails the test, by name: this is what catches a new
column nobody annotated, whatever its name."""

from __future__ import annotations

import uuid
from datetime import timedelta

from httpx import AsyncClient
from sqlalchemy import text

import pd_prime_demo.main  # noqa: F401  (every domain's tables on the metadata)
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.database import Base
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.privacy import datamap
from tests.claims_support import at, bound_policy, claim_body, file_claim, fresh, loss_time, staff
from tests.factories import auto_quote, person

_TEXT_COLUMNS = text(
    "SELECT table_name, column_name FROM information_schema.columns"
    " WHERE table_schema = 'public'"
    " AND data_type IN ('text', 'character varying', 'jsonb', 'json')"
    " ORDER BY table_name, column_name"
)


async def test_every_column_holding_a_canary_is_in_the_data_map(
    client: AsyncClient, runtime: Runtime
) -> None:
    tag = uuid.uuid4().hex[:8]
    canaries = {
        "name": f"Zorvath{tag}",
        "street": f"Canary{tag} Lane",
        "email": f"canary-{tag}@example.com",
        "driver": f"Driverly{tag}",
        "vin": f"1C{tag.upper()}0000000"[:17].replace("I", "1").replace("O", "0"),
        "claim": f"Hit by a cyclist near the Canary{tag} bakery",
        "claimant": f"Claimantia{tag}",
        "plate": f"PLATE{tag}",
        "note": f"Insured said Noteworthy{tag} witnessed it",
    }
    agent = await staff(client, runtime, Role.AGENT)
    body = person(
        first_name=canaries["name"],
        email=canaries["email"],
    )
    body["address"] = {**body["address"], "line1": canaries["street"]}
    created = await client.post("/api/v1/customers", json=body, headers=await fresh(client, agent))
    assert created.status_code == 201, created.text
    customer_id = created.json()["id"]
    quote = auto_quote(customer_id)
    quote["risk"]["drivers"][0]["name"] = canaries["driver"]
    quote["risk"]["vehicles"][0].update(vin=canaries["vin"], make="Honda", model="Civic")
    made = await bound_policy(client, agent, customer_id=customer_id, quote_body=quote)
    headers = await fresh(client, agent)
    paid = await client.post(
        f"{made.url}/payments",
        json={"amount": "25.00"},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert paid.status_code == 201, paid.text
    claim_template = claim_body(made.policy_id)
    parties = claim_template["parties"]
    parties[1] = {**parties[1], "name": canaries["claimant"]}
    vehicles = claim_template["vehicles"]
    vehicles[1] = {**vehicles[1], "description": f"Red van, plate {canaries['plate']}"}
    with at(made.inception + timedelta(days=31)):
        claim = await file_claim(
            client,
            await fresh(client, agent),
            made.policy_id,
            loss_at=loss_time(made.inception + timedelta(days=30)),
            description=canaries["claim"],
            parties=parties,
            vehicles=vehicles,
        )
        adjuster = await staff(client, runtime, Role.ADJUSTER)
        note = await client.post(
            f"/api/v1/claims/{claim['id']}/notes",
            json={"body": canaries["note"]},
            headers=await fresh(client, adjuster),
        )
        assert note.status_code == 201, note.text

    mapped = datamap.build(Base.metadata)
    patterns = [f"%{value}%" for value in canaries.values()]
    found: dict[str, list[str]] = {}
    async with runtime.db.sessionmaker() as session:
        columns = (await session.execute(_TEXT_COLUMNS)).all()
        assert len(columns) > 100  # the whole schema, not an empty search
        for table, column in columns:
            hits = (
                await session.execute(
                    text(
                        f'SELECT DISTINCT p FROM "{table}", unnest(CAST(:patterns AS text[])) p'
                        f' WHERE "{column}"::text ILIKE p'
                    ),
                    {"patterns": patterns},
                )
            ).scalars()
            for pattern in hits:
                found.setdefault(f"{table}.{column}", []).append(pattern.strip("%"))
    # The canaries went where they should (so the search can see what it looks for)...
    for expected in (
        "customers.first_name",
        "quotes.risk",
        "claims.description",
        "claim_notes.body",
    ):
        assert expected in found, (expected, sorted(found))
    # ...and nowhere the data map does not know of.
    unmapped = {
        name: values for name, values in found.items() if mapped.find(*name.split(".", 1)) is None
    }
    assert unmapped == {}, (
        "columns holding personal data that the data map does not list: annotate them with"
        " info=personal(...) (core/personal_data.py)",
        unmapped,
    )
