"""Builders for test data and logged-in clients."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers.schemas import CUSTOMER_CREATE_EXAMPLE
from pd_prime_demo.identity import service as identity

PASSWORD = "a sufficiently long passphrase"


@dataclass(frozen=True)
class Login:
    user_id: uuid.UUID
    email: str
    role: Role
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def create_user(runtime: Runtime, role: Role, *, email: str | None = None) -> uuid.UUID:
    email = email or f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
    async with runtime.db.unit_of_work() as session:
        result = await identity.create_user(
            session,
            email=email,
            password=PASSWORD,
            full_name=f"Test {role.value.title()}",
            role=role,
            passwords=runtime.passwords,
            actor=Actor.system("tests"),
        )
        assert isinstance(result, Ok), result
        return result.value.id


async def login(client: AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": email, "password": password},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def user_login(client: AsyncClient, runtime: Runtime, role: Role) -> Login:
    email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
    user_id = await create_user(runtime, role, email=email)
    tokens = await login(client, email)
    return Login(user_id, email, role, tokens["access_token"], tokens["refresh_token"])


def person(**overrides: Any) -> dict[str, Any]:
    """The documented OpenAPI example (so the example is proven to work), unique per call."""
    body: dict[str, Any] = copy.deepcopy(CUSTOMER_CREATE_EXAMPLE)
    body["email"] = f"maria.{uuid.uuid4().hex[:6]}@example.com"
    body.update(overrides)
    return body


def organisation(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "organisation",
        "organisation_name": "Acme Logistics LLC",
        "email": "risk@acme.example.com",
        "address": {
            "line1": "1 Wacker Dr",
            "city": "Chicago",
            "state": "IL",
            "postal_code": "60601",
        },
    }
    body.update(overrides)
    return body


async def session_for(runtime: Runtime) -> AsyncSession:
    return runtime.db.sessionmaker()
