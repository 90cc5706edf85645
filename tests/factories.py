"""Builders for test data and logged-in clients."""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.mail import Mail
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


async def relogin(client: AsyncClient, who: Login) -> dict[str, str]:
    """Fresh bearer headers for ``who`` at the clock's current time (tokens issued before a
    clock jump have expired)."""
    tokens = await login(client, who.email)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def changing(client: AsyncClient, headers: dict[str, str], url: str) -> dict[str, str]:
    """``headers`` with If-Match: the ETag of the policy at ``url`` as it reads now."""
    read = await client.get(url, headers=headers)
    assert read.status_code == 200, read.text
    return {**headers, "If-Match": read.headers["etag"]}


def noon(day: date) -> datetime:
    """Midday UTC of a business day, for ``clock.frozen_at``."""
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


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


def days_ahead(days: int) -> str:
    """A business date relative to today, so the suite does not age."""
    return (clock.today() + timedelta(days=days)).isoformat()


def auto_quote(customer_id: str, **overrides: Any) -> dict[str, Any]:
    """The documented Personal Auto example, for ``customer_id``."""
    from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE

    body: dict[str, Any] = copy.deepcopy(AUTO_EXAMPLE)
    body["customer_id"] = customer_id
    body["effective_on"] = days_ahead(7)
    body.update(overrides)
    return body


def home_quote(customer_id: str, **policy: Any) -> dict[str, Any]:
    risk = {
        "territory": "metro",
        "construction": "masonry",
        "protection_class": 3,
        "year_built": 1999,
        "roof_age": 8,
        "coverage_a": 300000,
        "claims_5y": 0,
        "occupancy": "owner",
        "protective_devices": False,
        "multi_policy": False,
    }
    risk.update(policy)
    return {
        "customer_id": customer_id,
        "product_code": "homeowners_ho3",
        "state": "OH",
        "effective_on": days_ahead(14),
        "risk": {"policy": risk},
        "options": [
            {
                "name": "standard",
                "coverages": {
                    "dwelling": {"deductible": "1000"},
                    "wind_hail": {"deductible": "2pct"},
                    "other_structures": {},
                    "personal_property": {},
                    "loss_of_use": {},
                    "personal_liability": {"limit": "300000"},
                    "medical_payments": {},
                },
            },
        ],
    }


async def register_and_login(client: AsyncClient, email: str) -> dict[str, str]:
    """A policyholder who registered themselves: the bearer headers of their login."""
    from pd_prime_demo.customers.schemas import REGISTRATION_EXAMPLE

    registration = {**REGISTRATION_EXAMPLE, "email": email}
    registered = await client.post("/api/v1/registrations", json=registration)
    assert registered.status_code == 202, registered.text
    await verify_address(client, email)
    tokens = await login(client, email, registration["password"])
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def draw_documents(runtime: Runtime) -> int:
    """Draw every pending page, as the worker's documents job does after commit (the test's
    transaction never commits, so no worker could see it); how many were drawn."""
    from sqlalchemy import select

    from pd_prime_demo.documents import service as documents
    from pd_prime_demo.documents.models import Document

    async with runtime.db.unit_of_work() as session:
        pending = (
            await session.scalars(select(Document.id).where(Document.status == "pending"))
        ).all()
        for document_id in pending:
            await documents.render(session, document_id)
    return len(pending)


def runtime_of_client(client: AsyncClient) -> Runtime:
    """The runtime of the app an in-process client talks to."""
    transport = client._transport
    assert isinstance(transport, ASGITransport)
    runtime = transport.app.state.runtime  # type: ignore[attr-defined]
    assert isinstance(runtime, Runtime)
    return runtime


async def mails_to(runtime: Runtime, address: str) -> list[Mail]:
    """The messages queued for ``address`` and not sent yet, oldest first (the test's
    transaction never commits, so no worker sends them)."""
    from sqlalchemy import select

    from pd_prime_demo.identity import mailbox
    from pd_prime_demo.identity.mfa_models import MailMessage

    found = []
    async with runtime.db.unit_of_work() as session:
        ids = (
            await session.scalars(
                select(MailMessage.id)
                .where(MailMessage.sent_at.is_(None))
                .order_by(MailMessage.created_at, MailMessage.id)
            )
        ).all()
        for message_id in ids:
            mail = await mailbox.take_unsent(session, runtime.cipher, message_id)
            if mail is not None and mail.to == address.lower():
                found.append(mail)
    return found


def link_token(mail: Mail) -> str:
    """The token of the link in a message."""
    match = re.search(r"token=([A-Za-z0-9_-]{20,})", mail.body)
    assert match, mail.body
    return match.group(1)


async def verify_address(client: AsyncClient, email: str) -> None:
    """Follow the verification link sent to ``email`` (the newest one)."""
    mails = [
        m for m in await mails_to(runtime_of_client(client), email) if "Confirm your" in m.subject
    ]
    assert mails, f"no verification message for {email}"
    verified = await client.post(
        "/api/v1/auth/email-verification", json={"token": link_token(mails[-1])}
    )
    assert verified.status_code == 204, verified.text


async def billing_run(client: AsyncClient, admin: Login, on: date) -> dict[str, Any]:
    """The billing run of ``on`` (``POST /api/v1/billing/runs``) at noon that day, as ``admin``."""
    with clock.frozen_at(noon(on)):
        response = await client.post(
            "/api/v1/billing/runs",
            json={"on": on.isoformat()},
            headers=await relogin(client, admin),
        )
    assert response.status_code == 200, response.text
    return dict(response.json())
