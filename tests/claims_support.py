"""Shared claims test support: bound policies in force on a chosen loss date, the logins that
file and handle claims, and first notice of loss through the API.

Policies bind only from today on (a back-dated bind needs underwriting authority), so the
tests travel: ``bound_policy`` binds at a chosen moment, and ``at(day)`` moves the clock to a
later day, where ``fresh`` logs the same person in again (tokens from before a jump have
expired). A loss is filed after it happened (a loss in the future is 422): ``loss_time(day)``
is 9:00 in Chicago (15:00 UTC) and ``at(day)`` noon UTC, so file under ``at(day + 1 day)``.

    with at(start):
        agent = await staff(client, runtime, Role.AGENT)
        made = await bound_policy(client, agent)
    with at(made.inception + timedelta(days=40)):
        headers = await fresh(client, agent)
        claim = await file_claim(client, headers, made.policy_id,
                                 loss_at=loss_time(made.inception + timedelta(days=39)))
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from httpx import AsyncClient

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers.schemas import REGISTRATION_EXAMPLE
from tests.factories import (
    Login,
    auto_quote,
    changing,
    home_quote,
    login,
    person,
    register_and_login,
    user_login,
)

ZONE = "America/Chicago"


@dataclass(frozen=True)
class Policyholder:
    """A self-registered customer: their login and their own customer record."""

    email: str
    password: str
    customer_id: str
    headers: dict[str, str]


Who = Login | Policyholder


@contextmanager
def at(day: date, hour: int = 12) -> Iterator[None]:
    """The clock frozen at ``hour`` UTC on ``day``."""
    with clock.frozen_at(datetime.combine(day, time(hour), tzinfo=UTC)):
        yield


async def staff(client: AsyncClient, runtime: Runtime, role: Role) -> Login:
    """A user of ``role`` logged in now (agent, adjuster, admin, underwriter, customer)."""
    return await user_login(client, runtime, role)


async def policyholder(client: AsyncClient, email: str | None = None) -> Policyholder:
    """A customer who registered themselves (no agent), logged in now."""
    email = email or f"holder-{uuid.uuid4().hex[:8]}@example.com"
    headers = await register_and_login(client, email)
    me = (await client.get("/api/v1/customers", headers=headers)).json()["items"][0]
    return Policyholder(email, REGISTRATION_EXAMPLE["password"], me["id"], headers)


async def fresh(client: AsyncClient, who: Who) -> dict[str, str]:
    """Bearer headers for ``who`` issued at the clock's current time."""
    if isinstance(who, Policyholder):
        tokens = await login(client, who.email, who.password)
    else:
        tokens = await login(client, who.email)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@dataclass(frozen=True)
class BoundPolicy:
    policy: dict[str, Any]
    quote: dict[str, Any]
    customer_id: str
    #: who bound it (and may change it, when staff)
    by: Who

    @property
    def policy_id(self) -> str:
        return str(self.policy["id"])

    @property
    def url(self) -> str:
        return f"/api/v1/policies/{self.policy['id']}"

    @property
    def inception(self) -> date:
        return date.fromisoformat(self.policy["inception_on"])

    @property
    def term_end(self) -> date:
        return date.fromisoformat(self.policy["terms"]["term_end"])


async def bound_policy(
    client: AsyncClient,
    who: Who,
    *,
    product: str = "auto",
    option: str | None = None,
    effective_in_days: int = 7,
    customer_id: str | None = None,
    quote_body: dict[str, Any] | None = None,
) -> BoundPolicy:
    """A policy bound now by ``who`` (an agent for a new customer of theirs, or a policyholder
    for themselves), effective ``effective_in_days`` from the clock's today. Auto binds the
    ``full`` package (BI 100/300, PD 100, UM, medpay, collision 500, comprehensive 250) on two
    vehicles; home its one package (Coverage A 300,000, OH)."""
    headers = await fresh(client, who)
    if customer_id is None:
        if isinstance(who, Policyholder):
            customer_id = who.customer_id
        else:
            created = await client.post("/api/v1/customers", json=person(), headers=headers)
            assert created.status_code == 201, created.text
            customer_id = created.json()["id"]
    if quote_body is not None:
        body = copy.deepcopy(quote_body)
        body["customer_id"] = customer_id
    elif product == "auto":
        body = auto_quote(customer_id)
    else:
        body = home_quote(customer_id)
    body["effective_on"] = (clock.today() + timedelta(days=effective_in_days)).isoformat()
    quoted = await client.post("/api/v1/quotes", json=body, headers=headers)
    assert quoted.status_code == 201, quoted.text
    quote = quoted.json()
    assert quote["status"] == "quoted", quote
    choice = {"option": option or ("full" if product == "auto" else "standard")}
    bound = await client.post(f"/api/v1/quotes/{quote['id']}/bind", json=choice, headers=headers)
    assert bound.status_code == 201, bound.text
    return BoundPolicy(bound.json(), quote, customer_id, who)


async def endorse(
    client: AsyncClient, headers: dict[str, str], made: BoundPolicy, on: date, **changes: Any
) -> dict[str, Any]:
    """An endorsement effective ``on`` (``coverages=...`` and/or ``risk=...``), as staff."""
    response = await client.post(
        f"{made.url}/endorsements",
        json={"effective_on": on.isoformat(), **changes},
        headers=await changing(client, headers, made.url),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def cancel(
    client: AsyncClient,
    headers: dict[str, str],
    made: BoundPolicy,
    on: date,
    reason_code: str = "insured_request",
) -> dict[str, Any]:
    response = await client.post(
        f"{made.url}/cancellations",
        json={"effective_on": on.isoformat(), "reason_code": reason_code},
        headers=await changing(client, headers, made.url),
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def reinstate(
    client: AsyncClient, headers: dict[str, str], made: BoundPolicy
) -> dict[str, Any]:
    response = await client.post(
        f"{made.url}/reinstatements", json={}, headers=await changing(client, headers, made.url)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def loss_time(day: date, hour: int = 9, zone: str = ZONE) -> str:
    """An aware ISO timestamp: ``hour`` o'clock local time in ``zone`` on ``day``."""
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(zone)).isoformat()


def claim_body(policy_id: str, **overrides: Any) -> dict[str, Any]:
    """A collision claim on the policy's first vehicle with a third party's car; the loss
    yesterday at 9:00 Chicago time unless ``loss_at`` is given. Overrides replace keys."""
    body: dict[str, Any] = {
        "policy_id": policy_id,
        "loss_at": loss_time(clock.today() - timedelta(days=1)),
        "time_zone": ZONE,
        "cause_code": "collision",
        "location": {
            "line1": "Congress Ave & 6th St",
            "city": "Austin",
            "state": "TX",
            "postal_code": "78701",
            "latitude": "30.2686",
            "longitude": "-97.7428",
        },
        "description": "Rear-ended at a red light; rear bumper and trunk lid damaged.",
        "parties": [
            {
                "role": "driver",
                "name": "Maria Garcia",
                "contact": {"phone": "+1 512 555 0100", "email": "maria@example.com"},
                "injured": False,
            },
            {
                "role": "claimant",
                "name": "Lee Chen",
                "contact": {
                    "phone": "+1 512 555 0199",
                    "address": {
                        "line1": "9 Elm St",
                        "city": "Austin",
                        "state": "TX",
                        "postal_code": "78702",
                    },
                },
                "injured": True,
            },
        ],
        "vehicles": [
            {"policy_unit": 0, "damage": "Rear bumper and trunk lid"},
            {
                "description": "Blue 2019 Honda Civic, TX plate ABC1234",
                "owner_party": 1,
                "damage": "Front bumper",
            },
        ],
    }
    body.update(overrides)
    return body


def home_claim_body(policy_id: str, **overrides: Any) -> dict[str, Any]:
    """A kitchen fire at the insured home."""
    body = claim_body(
        policy_id,
        cause_code="fire",
        location={
            "line1": "1 Main St",
            "city": "Columbus",
            "state": "OH",
            "postal_code": "43004",
        },
        time_zone="America/New_York",
        description="Kitchen fire: cabinets and ceiling damaged by fire and smoke.",
        parties=[{"role": "insured", "name": "Sam Rivera", "injured": False}],
        vehicles=[],
        property=[{"description": "Kitchen", "damage": "Cabinets, ceiling, smoke throughout"}],
    )
    body.update(overrides)
    return body


async def file_claim(
    client: AsyncClient, headers: dict[str, str], policy_id: str, **overrides: Any
) -> dict[str, Any]:
    """First notice of loss through the API (``claim_body`` with ``overrides``): the claim as
    filed (201)."""
    response = await client.post(
        "/api/v1/claims", json=claim_body(policy_id, **overrides), headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def file_home_claim(
    client: AsyncClient, headers: dict[str, str], policy_id: str, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/claims", json=home_claim_body(policy_id, **overrides), headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


LOSS_AFTER_INCEPTION = timedelta(days=30)


def filing_day(made: BoundPolicy) -> date:
    """The day ``claim_in_force`` files its claim: the day after the loss. Later steps on the
    claim (assignment, reserves, payments) run under ``at(filing_day(made))`` or later."""
    return made.inception + LOSS_AFTER_INCEPTION + timedelta(days=1)


async def claim_in_force(
    client: AsyncClient, runtime: Runtime, **overrides: Any
) -> tuple[BoundPolicy, Login, dict[str, Any]]:
    """The common case for the workflow and money tests: an agent's auto policy bound now
    (full package), and a collision claim on its first vehicle filed by the agent on
    ``filing_day(made)`` for a loss the day before (30 days after inception). The clock is
    back where it was on return: wrap later steps in ``at(filing_day(made))``. Returns the
    policy, the agent and the claim as filed."""
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    with at(filing_day(made)):
        headers = await fresh(client, agent)
        claim = await file_claim(
            client,
            headers,
            made.policy_id,
            loss_at=loss_time(made.inception + LOSS_AFTER_INCEPTION),
            **overrides,
        )
    return made, agent, claim
