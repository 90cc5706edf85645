"""First notice of loss after review: the loss's day is read in the policy's zone, never the
reporter's; a coverage quoted without an option reads its default on a claim; a key scoped
to filing alone attaches to the claim it filed."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from decimal import Decimal

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims.models import Claim
from pd_prime_demo.claims.service.contacts import may_see_contacts
from pd_prime_demo.claims.service.fnol_read import present_filed
from pd_prime_demo.claims.service.read import present
from pd_prime_demo.core.actor import Actor, ActorKind, Permission, Role
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity.rules import user_actor
from tests.claims_support import (
    at,
    bound_policy,
    file_claim,
    file_home_claim,
    fresh,
    loss_time,
    policyholder,
    staff,
)


async def test_the_loss_day_is_read_in_the_policys_zone_and_another_day_is_flagged(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)  # Personal Auto TX: America/Chicago
    before = made.inception - timedelta(days=1)
    with at(made.inception + timedelta(days=2)):
        admin = await staff(client, runtime, Role.ADMIN)
        # 20:00 in Austin the evening before inception is already inception day on Kiritimati.
        evening = loss_time(before, hour=20)
        shifted = await file_claim(
            client,
            admin.headers,
            made.policy_id,
            loss_at=evening,
            time_zone="Pacific/Kiritimati",
        )
        assert shifted["loss_on"] == before.isoformat(), "the policy's day, not the reporter's"
        assert shifted["loss_time_zone"] == "Pacific/Kiritimati", "kept as given"
        assert shifted["coverage_status"] == "flagged"
        codes = [f["code"] for f in shifted["coverage_findings"]]
        assert codes == ["policy.not_yet_effective", "loss_date_zone_differs"]
        message = shifted["coverage_findings"][1]["message"]
        assert made.inception.isoformat() in message
        assert "America/Chicago" in message

        normal = await file_claim(
            client, admin.headers, made.policy_id, loss_at=loss_time(made.inception)
        )
        assert normal["loss_on"] == made.inception.isoformat()
        assert normal["coverage_status"] == "verified"
        assert normal["coverage_findings"] == []
        # Another zone that gives the same day is no finding.
        nearby = await file_claim(
            client,
            admin.headers,
            made.policy_id,
            loss_at=loss_time(made.inception, hour=12),
            time_zone="America/Denver",
        )
        assert (nearby["loss_on"], nearby["coverage_status"]) == (
            made.inception.isoformat(),
            "verified",
        )


async def test_a_theft_claim_opens_personal_property_at_the_packages_default_limit(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    # HO-3 standard stores personal_property: {} (the default limit, 50% of Coverage A).
    made = await bound_policy(client, agent, product="home")
    loss = made.inception + timedelta(days=30)
    with at(loss + timedelta(days=1)):
        admin = await staff(client, runtime, Role.ADMIN)
        claim = await file_home_claim(
            client,
            admin.headers,
            made.policy_id,
            loss_at=loss_time(loss, zone="America/New_York"),
            cause_code="theft",
            description="Burglary: a laptop and jewellery taken.",
        )
        assert claim["coverage_status"] == "verified", claim["coverage_findings"]
        opened = await client.post(
            f"/api/v1/claims/{claim['id']}/exposures",
            json={"coverage_code": "personal_property"},
            headers=admin.headers,
        )
        assert opened.status_code == 201, opened.text
        exposure = opened.json()
        assert Decimal(exposure["limit_amount"]) == Decimal("150000.00")
        assert Decimal(exposure["deductible_amount"]) == Decimal("0")


async def test_contacts_open_only_for_a_users_own_login_never_a_delegated_token(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    holder = await policyholder(client)
    made = await bound_policy(client, holder)
    with at(made.inception + timedelta(days=5)):
        claim = await file_claim(
            client,
            await fresh(client, holder),
            made.policy_id,
            loss_at=loss_time(made.inception + timedelta(days=4)),
        )
    row = await session.get(Claim, uuid.UUID(claim["id"]))
    assert row is not None
    own = user_actor(uuid.uuid4(), Role.CUSTOMER.value, None)
    admin = user_actor(uuid.uuid4(), Role.ADMIN.value, None)
    assert own.has(Permission.CLAIMS_READ)
    assert admin.has(Permission.PII_READ)
    # A third-party app the policyholder (or an admin) delegated to: the user's permissions,
    # but not the person at the keyboard.
    delegated = [dataclasses.replace(a, delegated_to=uuid.uuid4()) for a in (own, admin)]
    clients = [Actor.client(uuid.uuid4(), a, a.permissions) for a in (own, admin)]
    keys = [Actor.api_key(uuid.uuid4(), a, a.permissions) for a in (own, admin)]
    for actor in (*delegated, *clients, *keys):
        assert actor.role in (Role.CUSTOMER, Role.ADMIN)
        assert actor.kind in (ActorKind.USER, ActorKind.CLIENT, ActorKind.API_KEY)
        assert not may_see_contacts(actor), actor
        filed = await present_filed(session, row, actor=actor, cipher=runtime.cipher)
        detailed = await present(session, row, actor=actor, cipher=runtime.cipher)
        assert [(p.contact, p.contact_masked) for p in filed.parties] == [(None, True)] * 2
        assert [(p.contact, p.contact_masked) for p in detailed.parties] == [(None, True)] * 2
    for actor in (own, admin):
        assert may_see_contacts(actor)
        filed = await present_filed(session, row, actor=actor, cipher=runtime.cipher)
        detailed = await present(session, row, actor=actor, cipher=runtime.cipher)
        assert filed.parties[0].contact is not None
        assert detailed.parties[0].contact is not None
        assert not detailed.parties[0].contact_masked


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def test_a_key_scoped_to_filing_alone_attaches_to_its_owners_claims(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await staff(client, runtime, Role.AGENT)
    made = await bound_policy(client, agent)
    other = await bound_policy(client, await staff(client, runtime, Role.AGENT))
    with at(made.inception + timedelta(days=40)):
        created = await client.post(
            "/api/v1/api-keys",
            json={"name": "FNOL intake", "scopes": ["claims:file"]},
            headers=await fresh(client, agent),
        )
        assert created.status_code == 201, created.text
        key = {"Authorization": f"Bearer {created.json()['key']}"}
        claim = await file_claim(client, key, made.policy_id)
        attached = await client.post(
            f"/api/v1/claims/{claim['id']}/attachments",
            files={"file": ("bumper.png", PNG, "image/png")},
            headers=key,
        )
        assert attached.status_code == 201, attached.text
        assert attached.json()["media_type"] == "image/png"
        # Beyond the owner's reach it is 404, as for filing.
        admin = await staff(client, runtime, Role.ADMIN)
        foreign = await file_claim(client, admin.headers, other.policy_id)
        refused = await client.post(
            f"/api/v1/claims/{foreign['id']}/attachments",
            files={"file": ("x.png", PNG, "image/png")},
            headers=key,
        )
        assert refused.status_code == 404
