"""Mass assignment (OWASP API3:2023): a create or update body that sets a field the caller may
not set (role, is_active, owner, premium, status, ids, timestamps) is refused with 422
naming the field, and nothing changes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers.schemas import REGISTRATION_EXAMPLE
from pd_prime_demo.identity.api_key_models import ApiKey
from pd_prime_demo.identity.models import ApiClient, User
from tests.factories import Login, auto_quote, person, register_and_login, user_login


@dataclass
class World:
    admin: Login
    agent: Login
    customer: dict[str, str]  # a policyholder's bearer headers
    customer_id: str  # the policyholder's own record
    agents_customer: str
    quote_id: str


@pytest.fixture
async def world(client: AsyncClient, runtime: Runtime) -> World:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    customer = await register_and_login(client, f"holder-{uuid.uuid4().hex[:6]}@example.com")
    me = await client.get("/api/v1/customers", headers=customer)
    [own] = me.json()["items"]
    created = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    assert created.status_code == 201, created.text
    quote = await client.post(
        "/api/v1/quotes", json=auto_quote(created.json()["id"]), headers=agent.headers
    )
    assert quote.status_code == 201, quote.text
    return World(admin, agent, customer, own["id"], created.json()["id"], quote.json()["id"])


async def _count(runtime: Runtime, model: type[Any]) -> int:
    async with runtime.db.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: Callable[[World], str]
    headers: Callable[[World], dict[str, str]]
    body: Callable[[World], dict[str, Any]]
    injected: dict[str, Any]
    # What must not change: a URL to read before and after (with the same headers), or a
    # table whose row count must stay the same.
    read: Callable[[World], str] | None = None
    counted: type[Any] | None = None


def _staff(role: str) -> dict[str, Any]:
    return {
        "email": f"new-{uuid.uuid4().hex[:6]}@example.com",
        "password": "quartz lantern meadow ferry 47",
        "full_name": "Robin Lee",
        "role": role,
    }


CASES = (
    Case(
        "a registration that makes itself an admin",
        "POST",
        lambda w: "/api/v1/registrations",
        lambda w: {},
        lambda w: {**REGISTRATION_EXAMPLE, "email": f"r-{uuid.uuid4().hex[:6]}@example.com"},
        {"role": "admin", "is_active": True, "email_verified_at": "2026-01-01T00:00:00Z"},
        counted=User,
    ),
    Case(
        "a staff user created active, verified, as a demo account or with an id",
        "POST",
        lambda w: "/api/v1/users",
        lambda w: w.admin.headers,
        lambda w: _staff("agent"),
        {"is_active": False, "is_demo": True, "id": str(uuid.uuid4()), "mfa_enabled": False},
        counted=User,
    ),
    Case(
        "a policyholder moving their record to another agent or user",
        "PATCH",
        lambda w: f"/api/v1/customers/{w.customer_id}",
        lambda w: {**w.customer, "If-Match": "*"},
        lambda w: {"phone": "+1 512 555 0199"},
        {"user_id": str(uuid.uuid4()), "owner_id": str(uuid.uuid4()), "version": 99},
        read=lambda w: f"/api/v1/customers/{w.customer_id}",
    ),
    Case(
        "a customer record with its PII envelopes or timestamps set directly",
        "PATCH",
        lambda w: f"/api/v1/customers/{w.agents_customer}",
        lambda w: {**w.agent.headers, "If-Match": "*"},
        lambda w: {"phone": "+1 512 555 0199"},
        {"ssn_enc": "v1.x.y", "created_at": "2020-01-01T00:00:00Z", "is_active": False},
        read=lambda w: f"/api/v1/customers/{w.agents_customer}",
    ),
    Case(
        "a quote created with its own premium and status",
        "POST",
        lambda w: "/api/v1/quotes",
        lambda w: w.agent.headers,
        lambda w: auto_quote(w.agents_customer),
        {"premium": "1.00", "status": "approved", "total_premium": "1.00"},
        read=lambda w: f"/api/v1/quotes?customer_id={w.agents_customer}",
    ),
    Case(
        "a quote changed to bound with a premium",
        "PATCH",
        lambda w: f"/api/v1/quotes/{w.quote_id}",
        lambda w: {**w.agent.headers, "If-Match": "*"},
        lambda w: {"submit": True},
        {"status": "bound", "premium": "1.00", "customer_id": str(uuid.uuid4())},
        read=lambda w: f"/api/v1/quotes/{w.quote_id}",
    ),
    Case(
        "an API key for someone else, already old or with a chosen digest",
        "POST",
        lambda w: "/api/v1/api-keys",
        lambda w: w.agent.headers,
        lambda w: {"name": "k", "scopes": ["customers:read"]},
        {"owner_id": str(uuid.uuid4()), "key_hash": "0" * 64, "expires_at": "2099-01-01"},
        counted=ApiKey,
    ),
    Case(
        "an API client with a chosen secret or already revoked",
        "POST",
        lambda w: "/api/v1/api-clients",
        lambda w: w.admin.headers,
        lambda w: {"name": "c", "owner_id": str(w.agent.user_id), "scopes": ["quotes:read"]},
        {"secret_hash": "0" * 64, "revoked_at": None, "created_by": "someone"},
        counted=ApiClient,
    ),
)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_a_field_the_caller_may_not_set_is_refused_and_nothing_changes(
    client: AsyncClient, runtime: Runtime, world: World, case: Case
) -> None:
    headers = case.headers(world)
    before = (await client.get(case.read(world), headers=headers)).json() if case.read else None
    counted = await _count(runtime, case.counted) if case.counted else None
    for name, value in case.injected.items():
        body = {**case.body(world), name: value}
        response = await client.request(case.method, case.url(world), json=body, headers=headers)
        assert response.status_code == 422, (name, response.text)
        problem = response.json()
        assert problem["code"] == "request.invalid", problem
        assert any(name in e["pointer"] for e in problem["errors"]), (name, problem)
    if case.read:
        after = (await client.get(case.read(world), headers=headers)).json()
        assert after == before
    if case.counted:
        assert await _count(runtime, case.counted) == counted
    # The same body without the injected field is accepted: the refusal was for the field.
    accepted = await client.request(
        case.method, case.url(world), json=case.body(world), headers=headers
    )
    assert 200 <= accepted.status_code < 300, accepted.text


async def test_a_policyholder_cannot_choose_their_agent(
    client: AsyncClient, runtime: Runtime, world: World
) -> None:
    """agent_id is a field of the update, for staff: from a policyholder it is refused."""
    url = f"/api/v1/customers/{world.customer_id}"
    before = (await client.get(url, headers=world.customer)).json()
    moved = await client.patch(
        url,
        json={"agent_id": str(world.agent.user_id)},
        headers={**world.customer, "If-Match": "*"},
    )
    assert moved.status_code in (403, 422), moved.text
    assert (await client.get(url, headers=world.customer)).json() == before
