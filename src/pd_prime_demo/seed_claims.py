"""The demo claims, filed and handled through the claims services on the days
they would have been, so the adjuster's queue, the money and the loss reports have something
to show (each policy's claims made once: a policy with a claim is left as it is):

* Casey: a liability claim (a parked car backed into) reported by Casey 25 days ago, a
  property damage exposure for the other car's owner, reserved, paid and closed as paid; and
  a second one reported yesterday, assigned by workload to the demo adjuster and not touched.
* James: a kitchen fire 50 days ago, reported by his agent: the dwelling exposure with an
  indemnity and an expense reserve and a first indemnity payment, still open.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims import service as claims
from pd_prime_demo.claims.enums import ClaimStatus, ClosedOutcome, CostType
from pd_prime_demo.claims.schemas_fnol import ClaimCreate
from pd_prime_demo.claims.service import exposures as claim_exposures
from pd_prime_demo.claims.service import payments as claim_payments
from pd_prime_demo.claims.service import read as claim_reads
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import DomainError, Err, Result
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.policies import service as policies
from pd_prime_demo.seed_book import on_day

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
        with on_day(on):
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
        with on_day(loss_on + timedelta(days=2)):
            claimant = await adjusting.claimant(claim_id)
            # Property damage is rated per vehicle: under Casey's car, for the other's owner.
            pd = (claim_id, await adjusting.exposure(claim_id, "pd", 0, claimant))
            await adjusting.reserve(
                pd, CostType.INDEMNITY, "property_damage", "3000.00", "body shop estimate"
            )
        with on_day(loss_on + timedelta(days=12)):
            await adjusting.pay(
                pd, "property_damage", "2412.50", "Riverside Collision Center", "invoice 4471"
            )
        with on_day(loss_on + timedelta(days=14)):
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
        with on_day(loss_on + timedelta(days=3)):
            dwelling = (claim_id, await adjusting.exposure(claim_id, "dwelling", None, None))
            await adjusting.reserve(
                dwelling, CostType.INDEMNITY, "dwelling", "18000.00", "contractor's estimate"
            )
            await adjusting.reserve(
                dwelling, CostType.EXPENSE, "adjusting", "1200.00", "independent inspection"
            )
        with on_day(loss_on + timedelta(days=15)):
            await adjusting.pay(
                dwelling, "dwelling", "6500.00", "James Okafor", "advance for the clean-up"
            )
        made += 1
    return made
