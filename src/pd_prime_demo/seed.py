"""Demo data: one login per role, a small book of customers, quotes and policies that show
every part of the lifecycle to each role (``seed_book``). Safe to run again."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers import service as customers
from pd_prime_demo.customers.schemas import Address, OrganisationCreate, PersonCreate
from pd_prime_demo.identity import service as identity
from pd_prime_demo.identity.rules import user_actor
from pd_prime_demo.products import service as products
from pd_prime_demo.products.shipped import shipped_documents
from pd_prime_demo.quotes import service as quotes
from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE, QuoteCreate
from pd_prime_demo.seed_book import seed_book
from pd_prime_demo.seed_claims import seed_claims

DEMO_PASSWORD = "prime-demo-pass"  # noqa: S105 — demo mode only; printed by `make demo`
_NAMESPACE = uuid.UUID("6a1f2e0c-2f59-4d39-9a38-3c0f5f0d0e11")


@dataclass(frozen=True, slots=True)
class DemoLogin:
    role: Role
    email: str
    full_name: str
    # The demo underwriter may decide every demo referral (the exotic vehicle needs 2).
    authority: int | None = None


DEMO_LOGINS = (
    DemoLogin(Role.ADMIN, "admin@demo.pdprime.example", "Avery Admin"),
    DemoLogin(Role.AGENT, "agent@demo.pdprime.example", "Alex Agent"),
    DemoLogin(Role.AGENT, "agent2@demo.pdprime.example", "Blair Agent"),
    DemoLogin(Role.UNDERWRITER, "underwriter@demo.pdprime.example", "Uma Underwriter", 2),
    DemoLogin(Role.ADJUSTER, "adjuster@demo.pdprime.example", "Jordan Adjuster"),
    DemoLogin(Role.CUSTOMER, "customer@demo.pdprime.example", "Casey Customer"),
)


def _address(line1: str, city: str, state: str, postal: str) -> Address:
    return Address(line1=line1, city=city, state=state, postal_code=postal)


def _people() -> list[tuple[str, str | None, PersonCreate | OrganisationCreate]]:
    """(seed key, owning demo login or None, the customer); agents are set when seeding."""
    return [
        (
            "casey",
            "customer@demo.pdprime.example",
            PersonCreate(
                kind="person",
                first_name="Casey",
                last_name="Customer",
                email="customer@demo.pdprime.example",
                phone="+1 614 555 0101",
                address=_address("12 Elm St", "Columbus", "OH", "43004"),
                date_of_birth=date(1988, 3, 14),
                ssn="219-09-9999",
                drivers_license_number="OH1234567",
                drivers_license_state="OH",
            ),
        ),
        (
            "maria",
            None,
            PersonCreate(
                kind="person",
                first_name="Maria",
                last_name="Garcia",
                email="maria.garcia@example.com",
                phone="+1 512 555 0100",
                address=_address("100 Congress Ave", "Austin", "TX", "78701"),
                date_of_birth=date(1985, 4, 12),
                ssn="123-45-6789",
                drivers_license_number="TX12345678",
                drivers_license_state="TX",
            ),
        ),
        (
            "james",
            None,
            PersonCreate(
                kind="person",
                first_name="James",
                last_name="Okafor",
                email="james.okafor@example.com",
                address=_address("8 Harbor Rd", "Tampa", "FL", "33602"),
                date_of_birth=date(1972, 11, 2),
                ssn="078-05-1120",
            ),
        ),
        (
            "lin",
            None,
            PersonCreate(
                kind="person",
                first_name="Lin",
                last_name="Chen",
                email="lin.chen@example.com",
                phone="+1 415 555 0142",
                address=_address("400 Market St", "San Francisco", "CA", "94105"),
                date_of_birth=date(1995, 7, 30),
            ),
        ),
        (
            "acme",
            None,
            OrganisationCreate(
                kind="organisation",
                organisation_name="Acme Logistics LLC",
                email="risk@acme-logistics.example.com",
                phone="+1 312 555 0199",
                address=_address("1 Wacker Dr", "Chicago", "IL", "60601"),
            ),
        ),
        (
            "noah",
            None,
            PersonCreate(
                kind="person",
                first_name="Noah",
                last_name="Brooks",
                email="noah.brooks@example.com",
                phone="+1 214 555 0177",
                address=_address("2200 Ross Ave", "Dallas", "TX", "75201"),
                date_of_birth=date(1990, 9, 21),
            ),
        ),
    ]


_BOOK = {"casey": 0, "maria": 0, "james": 1, "lin": 1, "acme": 0, "noah": 0}


async def seed_products(session: AsyncSession) -> int:
    """Upload, approve and activate each shipped product version that is not there yet."""
    actor = Actor.system("seed")
    existing = {
        (v.product_code, v.state, v.version)
        for v in await products.list_versions(session, product_code=None, state=None, status=None)
    }
    created = 0
    for raw in shipped_documents():
        key = (raw["product_code"], raw["state"], raw["version"])
        if key in existing:
            continue
        name = " ".join(key)
        match await products.upload_version(session, raw, actor=actor):
            case Ok(row):
                for action in ("approve", "activate"):
                    result = await products.transition(session, row.id, action, actor=actor)
                    if isinstance(result, Err):
                        raise RuntimeError(f"activating {name}: {result.error}")
                created += 1
            case Err(error):
                raise RuntimeError(f"seeding {name} failed: {error.errors}")
    return created


async def seed_demo(session: AsyncSession, runtime: Runtime) -> dict[str, int]:
    """Create what is missing; return how many users, customers, products, quotes, policies
    and claims were created."""
    actor = Actor.system("seed")
    created = {"users": 0, "customers": 0, "products": await seed_products(session)}
    users: dict[str, uuid.UUID] = {}
    for login in DEMO_LOGINS:
        existing = await identity.find_by_email(session, login.email)
        if existing is not None:
            users[login.email] = existing.id
            continue
        match await identity.create_user(
            session,
            email=login.email,
            password=DEMO_PASSWORD,
            full_name=login.full_name,
            role=login.role,
            passwords=runtime.passwords,
            actor=actor,
            underwriting_authority=login.authority,
        ):
            case Ok(user):
                # Its password is published: it signs in only in demo mode (see identity).
                user.is_demo = True
                users[login.email] = user.id
                created["users"] += 1
            case Err(error):
                raise RuntimeError(f"seeding {login.email} failed: {error.code}")
    agents = [users["agent@demo.pdprime.example"], users["agent2@demo.pdprime.example"]]
    for key, owner, data in _people():
        customer_id = uuid.uuid5(_NAMESPACE, key)
        if isinstance(await customers.get_customer(session, customer_id, actor=actor), Ok):
            continue
        data = data.model_copy(update={"agent_id": agents[_BOOK[key]]})
        match await customers.create_customer(
            session,
            data,
            actor=actor,
            cipher=runtime.cipher,
            owner_user_id=users[owner] if owner else None,
            customer_id=customer_id,
        ):
            case Ok():
                created["customers"] += 1
            case Err(error):
                raise RuntimeError(f"seeding customer {key} failed: {error.code}")
    created["quotes"] = await _seed_quotes(session, actor)
    customer_ids = {key: uuid.uuid5(_NAMESPACE, key) for key, _, _ in _people()}
    created["policies"] = await seed_book(session, actor, customer_ids)
    acting: dict[str, Actor] = {}
    for name, email in (
        ("casey", "customer@demo.pdprime.example"),
        ("agent2", "agent2@demo.pdprime.example"),
        ("adjuster", "adjuster@demo.pdprime.example"),
    ):
        found = await identity.find_by_email(session, email)
        assert found is not None  # made above
        acting[name] = user_actor(found.id, found.role, found.underwriting_authority)
    created["claims"] = await seed_claims(session, runtime, acting, customer_ids)
    return created


async def _seed_quotes(session: AsyncSession, actor: Actor) -> int:
    """Two Personal Auto quotes for Maria (TX): one quoted, one in the referral queue."""
    maria = uuid.uuid5(_NAMESPACE, "maria")
    listed = await quotes.list_quotes(
        session, actor=actor, status=None, customer_id=maria, cursor=None, limit=1
    )
    if isinstance(listed, Ok) and listed.value[0]:
        return 0
    base = copy.deepcopy(AUTO_EXAMPLE)
    base["customer_id"] = str(maria)
    base["effective_on"] = (clock.today() + timedelta(days=14)).isoformat()
    exotic = copy.deepcopy(base)
    exotic["risk"]["vehicles"][0]["symbol"] = "D"
    for body in (base, exotic):
        result = await quotes.create_quote(session, QuoteCreate.model_validate(body), actor=actor)
        if isinstance(result, Err):
            raise RuntimeError(f"seeding a demo quote failed: {result.error}")
    return 2
