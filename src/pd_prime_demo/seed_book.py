"""The demo's policies, each showing a part of the lifecycle, made as live business would have
made them: the clock is set back to when each was quoted and bound, and the billing runs of the
days since are replayed.

* Maria Garcia (TX, agent Alex): a monthly Personal Auto policy bound today, and two quotes,
  one waiting in the referral queue for an underwriter (the demo underwriter may decide it).
* Casey Customer (OH, the demo customer login): an annual Personal Auto policy in force,
  paid in full: the policyholder sees their own policy, documents and payments.
* James Okafor (FL, agent Blair): a Homeowners HO-3 policy a month from its renewal, with the
  renewal offered: the renewal can be accepted right away.
* Noah Brooks (TX, agent Alex): a monthly Personal Auto policy whose first invoice is past its
  due date and unpaid: the next billing runs send the notice, then cancel for non-payment.

Each is made once: a customer who already has a policy is left as it is.

Then the claims (``seed_claims``), filed and handled through the claims services on the days
they would have been, so the adjuster's queue, the money and the loss reports have something
to show (each policy's claims made once: a policy with a claim is left as it is):

* Casey: a liability claim (a parked car backed into) reported by Casey 25 days ago, a
  property damage exposure for the other car's owner, reserved, paid and closed as paid; and
  a second one reported yesterday, assigned by workload to the demo adjuster and not touched.
* James: a kitchen fire 50 days ago, reported by his agent: the dwelling exposure with an
  indemnity and an expense reserve and a first indemnity payment, still open.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.claims import service as claims
from pd_prime_demo.claims.enums import ClaimStatus, ClosedOutcome, CostType
from pd_prime_demo.claims.schemas_fnol import ClaimCreate
from pd_prime_demo.claims.service import exposures as claim_exposures
from pd_prime_demo.claims.service import payments as claim_payments
from pd_prime_demo.claims.service import read as claim_reads
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.policies import service as policies
from pd_prime_demo.quotes import service as quotes
from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE, QuoteCreate

HOME_RISK: dict[str, Any] = {
    "policy": {
        "territory": "coastal",
        "construction": "masonry",
        "protection_class": 4,
        "year_built": 2004,
        "roof_age": 9,
        "coverage_a": 420000,
        "claims_5y": 0,
        "occupancy": "owner",
        "protective_devices": True,
        "multi_policy": False,
    }
}
HOME_PACKAGE = {
    "name": "standard",
    "coverages": {
        "dwelling": {"deductible": "2500"},
        "wind_hail": {"deductible": "2pct"},
        "other_structures": {},
        "personal_property": {},
        "loss_of_use": {},
        "personal_liability": {"limit": "300000"},
        "medical_payments": {},
    },
}


@contextmanager
def _on(day: date) -> Iterator[None]:
    with clock.frozen_at(datetime(day.year, day.month, day.day, 12, tzinfo=UTC)):
        yield


async def _has_policy(session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> bool:
    listed = await policies.list_policies(
        session,
        actor=actor,
        where=policies.PolicyFilter(customer_id=customer_id),
        on=clock.today(),
        cursor=None,
        limit=1,
    )
    return isinstance(listed, Ok) and bool(listed.value[0])


async def _bind(
    session: AsyncSession,
    actor: Actor,
    body: dict[str, Any],
    *,
    plan: str,
    pay_in_full: bool = False,
) -> uuid.UUID:
    quote = await quotes.create_quote(session, QuoteCreate.model_validate(body), actor=actor)
    if isinstance(quote, Err):
        raise RuntimeError(f"seeding a demo quote failed: {quote.error}")
    bound = await policies.bind_quote(
        session, quote.value.id, option=body["options"][0]["name"], payment_plan=plan, actor=actor
    )
    if isinstance(bound, Err):
        raise RuntimeError(f"seeding a demo policy failed: {bound.error}")
    policy_id = bound.value.policy.id
    if pay_in_full:
        account = await billing.account_for(session, policy_id, actor=actor, for_update=True)
        assert isinstance(account, Ok)
        owed = (await billing.view(session, account.value)).balance
        await billing.pay(
            session,
            account.value,
            amount=owed,
            method="ach",
            idempotency_key=f"demo-{policy_id}",
            actor=actor,
        )
    return policy_id


async def _billing_runs(session: AsyncSession, first: date, last: date) -> None:
    """The daily billing runs of the days from ``first`` to ``last``, as the worker does."""
    day = first
    while day <= last:
        with _on(day):
            await billing.run_billing(
                session, on=day, cancel_policy=policies.cancel_for_non_payment
            )
        day += timedelta(days=1)


def _auto(customer_id: uuid.UUID, state: str, territory: str, effective_on: date) -> dict[str, Any]:
    body = copy.deepcopy(AUTO_EXAMPLE)
    body.update(customer_id=str(customer_id), state=state, effective_on=effective_on.isoformat())
    body["risk"]["policy"]["territory"] = territory
    body["options"] = body["options"][:1]
    return body


async def seed_book(session: AsyncSession, actor: Actor, customer_ids: dict[str, uuid.UUID]) -> int:
    """Make each demo policy that is not there yet; how many were made."""
    today = clock.today()
    made = 0
    maria = customer_ids["maria"]
    if not await _has_policy(session, actor, maria):
        quoted = await quotes.list_quotes(
            session, actor=actor, status="quoted", customer_id=maria, cursor=None, limit=1
        )
        if isinstance(quoted, Ok) and quoted.value[0]:
            result = await policies.bind_quote(
                session,
                quoted.value[0][0].id,
                option="standard",
                payment_plan="monthly",
                actor=actor,
            )
            if isinstance(result, Err):
                raise RuntimeError(f"seeding a demo policy failed: {result.error}")
            made += 1
    casey = customer_ids["casey"]
    if not await _has_policy(session, actor, casey):
        bound_on = today - timedelta(days=40)
        with _on(bound_on):
            await _bind(
                session,
                actor,
                _auto(casey, "OH", "columbus", bound_on + timedelta(days=10)),
                plan="annual",
                pay_in_full=True,
            )
        made += 1
    james = customer_ids["james"]
    if not await _has_policy(session, actor, james):
        bound_on = today - timedelta(days=340)
        body = {
            "customer_id": str(james),
            "product_code": "homeowners_ho3",
            "state": "FL",
            "effective_on": (bound_on + timedelta(days=10)).isoformat(),
            "risk": HOME_RISK,
            "options": [HOME_PACKAGE],
        }
        with _on(bound_on):
            policy_id = await _bind(session, actor, body, plan="annual", pay_in_full=True)
        offered = await policies.offer(session, policy_id, actor=actor)
        if isinstance(offered, Err):
            raise RuntimeError(f"seeding a demo renewal offer failed: {offered.error}")
        made += 1
    noah = customer_ids["noah"]
    if not await _has_policy(session, actor, noah):
        bound_on = today - timedelta(days=30)
        effective = today - timedelta(days=6)  # its first installment fell due six days ago
        with _on(bound_on):
            await _bind(session, actor, _auto(noah, "TX", "dallas", effective), plan="monthly")
        await _billing_runs(session, effective - timedelta(days=15), today - timedelta(days=1))
        made += 1
    return made


T = TypeVar("T")


def _ok(result: Result[T, DomainError], what: str) -> T:
    if isinstance(result, Err):
        raise RuntimeError(f"seeding {what} failed: {result.error.code} {result.error.detail}")
    return result.value


async def _policy_of(session: AsyncSession, actor: Actor, customer_id: uuid.UUID) -> uuid.UUID:
    listed = _ok(
        await policies.list_policies(
            session,
            actor=actor,
            where=policies.PolicyFilter(customer_id=customer_id),
            on=clock.today(),
            cursor=None,
            limit=1,
        ),
        "the demo claims (finding a policy)",
    )
    return listed[0][0][0].id


async def _has_claim(session: AsyncSession, actor: Actor, policy_id: uuid.UUID) -> bool:
    listed = await claim_reads.list_claims(
        session,
        actor=actor,
        where=claim_reads.ClaimFilter(policy_id=policy_id),
        cursor=None,
        limit=1,
    )
    return bool(_ok(listed, "the demo claims (listing)")[0])


def _claim(policy_id: uuid.UUID, loss_on: date, hour: int, **body: Any) -> ClaimCreate:
    """A first notice for a loss at ``hour`` o'clock New York time on ``loss_on``."""
    loss_at = datetime.combine(loss_on, time(hour), tzinfo=ZoneInfo("America/New_York"))
    return ClaimCreate.model_validate(
        {
            "policy_id": str(policy_id),
            "loss_at": loss_at.isoformat(),
            "time_zone": "America/New_York",
            **body,
        }
    )


def _liability_claim(policy_id: uuid.UUID, loss_on: date, description: str) -> ClaimCreate:
    return _claim(
        policy_id,
        loss_on,
        17,
        cause_code="liability",
        location={
            "line1": "Easton Town Center, garage B",
            "city": "Columbus",
            "state": "OH",
            "postal_code": "43219",
        },
        description=description,
        parties=[
            {"role": "driver", "name": "Casey Customer"},
            {"role": "claimant", "name": "Robin Patel", "contact": {"phone": "+1 614 555 0188"}},
        ],
        vehicles=[
            {"policy_unit": 0, "damage": "Rear bumper scuffed"},
            {
                "description": "Grey 2021 Toyota RAV4, OH plate JKL4821",
                "owner_party": 1,
                "damage": "Driver's door and front wing dented",
            },
        ],
    )


def _fire_claim(policy_id: uuid.UUID, loss_on: date) -> ClaimCreate:
    return _claim(
        policy_id,
        loss_on,
        19,
        cause_code="fire",
        location={"line1": "8 Harbor Rd", "city": "Tampa", "state": "FL", "postal_code": "33602"},
        description="A pan fire spread to the kitchen cabinets; smoke on the ground floor.",
        parties=[{"role": "insured", "name": "James Okafor"}],
        property=[{"description": "Kitchen", "damage": "Cabinets, counter and ceiling burnt"}],
    )


class _Adjusting:
    """The demo adjuster's steps on a claim, each on the day given, failing loudly."""

    def __init__(self, session: AsyncSession, runtime: Runtime, adjuster: Actor) -> None:
        self.session, self.runtime, self.adjuster = session, runtime, adjuster

    async def claimant(self, claim_id: uuid.UUID) -> uuid.UUID:
        read = await claim_reads.read_claim(
            self.session, claim_id, actor=self.adjuster, cipher=self.runtime.cipher
        )
        return next(
            p.id for p in _ok(read, "reading a demo claim")[1].parties if p.role == "claimant"
        )

    async def exposure(
        self, claim_id: uuid.UUID, coverage: str, unit: int | None, claimant: uuid.UUID | None
    ) -> uuid.UUID:
        opened = await claim_exposures.add_exposure(
            self.session,
            claim_id,
            coverage_code=coverage,
            policy_unit=unit,
            claimant_party_id=claimant,
            actor=self.adjuster,
        )
        return _ok(opened, "a demo exposure").exposure.id

    async def reserve(
        self,
        claim: tuple[uuid.UUID, uuid.UUID],
        cost_type: CostType,
        category: str,
        amount: str,
        reason: str,
    ) -> None:
        result = await claim_payments.set_reserve(
            self.session,
            *claim,
            cost_type=cost_type,
            category=category,
            amount=Decimal(amount),
            reason=reason,
            actor=self.adjuster,
        )
        _ok(result, "a demo reserve")

    async def pay(
        self,
        claim: tuple[uuid.UUID, uuid.UUID],
        category: str,
        amount: str,
        payee: str,
        reason: str,
    ) -> None:
        result = await claim_payments.make_payment(
            self.session,
            *claim,
            cost_type=CostType.INDEMNITY,
            category=category,
            amount=Decimal(amount),
            payee=payee,
            reason=reason,
            idempotency_key=None,
            actor=self.adjuster,
        )
        _ok(result, "a demo payment")


async def seed_claims(
    session: AsyncSession,
    runtime: Runtime,
    actors: dict[str, Actor],
    customer_ids: dict[str, uuid.UUID],
) -> int:
    """File and handle the demo claims that are not there yet; how many were filed.

    ``actors``: the demo logins acting (``casey``, ``agent2``, ``adjuster``)."""
    system = Actor.system("seed")
    today = clock.today()
    adjusting = _Adjusting(session, runtime, actors["adjuster"])
    made = 0

    async def file(body: ClaimCreate, by: Actor, on: date) -> uuid.UUID:
        with _on(on):
            filed = await claims.file_claim(
                session, body, actor=by, cipher=runtime.cipher, settings=runtime.settings
            )
        return _ok(filed, "a demo claim").id

    casey_policy = await _policy_of(session, system, customer_ids["casey"])
    if not await _has_claim(session, system, casey_policy):
        loss_on = today - timedelta(days=25)
        backed_into = "Reversing out of a parking space, backed into a parked car."
        claim_id = await file(
            _liability_claim(casey_policy, loss_on, backed_into),
            actors["casey"],
            loss_on + timedelta(days=1),
        )
        with _on(loss_on + timedelta(days=2)):
            claimant = await adjusting.claimant(claim_id)
            # Property damage is rated per vehicle: under Casey's car, for the other's owner.
            pd = (claim_id, await adjusting.exposure(claim_id, "pd", 0, claimant))
            await adjusting.reserve(
                pd, CostType.INDEMNITY, "property_damage", "3000.00", "body shop estimate"
            )
        with _on(loss_on + timedelta(days=12)):
            await adjusting.pay(
                pd, "property_damage", "2412.50", "Riverside Collision Center", "invoice 4471"
            )
        with _on(loss_on + timedelta(days=14)):
            closed = await claims.change_status(
                session,
                claim_id,
                ClaimStatus.CLOSED,
                outcome=ClosedOutcome.PAID,
                reason="repairs paid; the claimant signed the release",
                expected_version=None,
                actor=actors["adjuster"],
            )
            _ok(closed, "closing a demo claim")
        clipped = "Clipped a parked car's mirror pulling out of the garage."
        yesterday = today - timedelta(days=1)
        await file(_liability_claim(casey_policy, yesterday, clipped), actors["casey"], today)
        made += 2
    james_policy = await _policy_of(session, system, customer_ids["james"])
    if not await _has_claim(session, system, james_policy):
        loss_on = today - timedelta(days=50)
        claim_id = await file(
            _fire_claim(james_policy, loss_on), actors["agent2"], loss_on + timedelta(days=1)
        )
        with _on(loss_on + timedelta(days=3)):
            dwelling = (claim_id, await adjusting.exposure(claim_id, "dwelling", None, None))
            await adjusting.reserve(
                dwelling, CostType.INDEMNITY, "dwelling", "18000.00", "contractor's estimate"
            )
            await adjusting.reserve(
                dwelling, CostType.EXPENSE, "adjusting", "1200.00", "independent inspection"
            )
        with _on(loss_on + timedelta(days=15)):
            await adjusting.pay(
                dwelling, "dwelling", "6500.00", "James Okafor", "advance for the clean-up"
            )
        made += 1
    return made
