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

The claims on these policies are ``seed_claims``'s.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.billing import service as billing
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import Err, Ok
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
def on_day(day: date) -> Iterator[None]:
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
        with on_day(day):
            await billing.run_billing(
                session, on=day, cancel_policy=policies.cancel_for_non_payment
            )
        day += timedelta(days=1)


# The schedule the declarations print (descriptive, never rated): who drives, and which cars.
SCHEDULES = {
    "casey": (
        ("Casey Customer", "Jordan Customer"),
        (("Subaru", "Outback", "4S4BSANC5K3205531"), ("Honda", "Civic", "2HGFB2F59EH512345")),
    ),
    "noah": (
        ("Noah Brooks", "Emma Brooks"),
        (("Ford", "F-150", "1FTEW1EP5JFA12345"), ("Toyota", "Corolla", "2T1BURHE0JC034461")),
    ),
}


def _auto(
    customer_id: uuid.UUID, state: str, territory: str, effective_on: date, schedule: str
) -> dict[str, Any]:
    body = copy.deepcopy(AUTO_EXAMPLE)
    body.update(customer_id=str(customer_id), state=state, effective_on=effective_on.isoformat())
    body["risk"]["policy"]["territory"] = territory
    names, cars = SCHEDULES[schedule]
    for driver, name in zip(body["risk"]["drivers"], names, strict=True):
        driver["name"] = name
    for vehicle, (make, model, vin) in zip(body["risk"]["vehicles"], cars, strict=True):
        vehicle.update(make=make, model=model, vin=vin)
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
        with on_day(bound_on):
            await _bind(
                session,
                actor,
                _auto(casey, "OH", "columbus", bound_on + timedelta(days=10), "casey"),
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
        with on_day(bound_on):
            policy_id = await _bind(session, actor, body, plan="annual", pay_in_full=True)
        offered = await policies.offer(session, policy_id, actor=actor)
        if isinstance(offered, Err):
            raise RuntimeError(f"seeding a demo renewal offer failed: {offered.error}")
        made += 1
    noah = customer_ids["noah"]
    if not await _has_policy(session, actor, noah):
        bound_on = today - timedelta(days=30)
        effective = today - timedelta(days=6)  # its first installment fell due six days ago
        with on_day(bound_on):
            await _bind(
                session, actor, _auto(noah, "TX", "dallas", effective, "noah"), plan="monthly"
            )
        await _billing_runs(session, effective - timedelta(days=15), today - timedelta(days=1))
        made += 1
    return made
