"""Legal (litigation) holds: preserve a person's records for a matter, whatever a request or
the retention schedule would otherwise do (GDPR Art. 17(3)(e); the duty to preserve evidence
once litigation is anticipated, FRCP 37(e)).

A hold is placed on a customer, a policy or a claim, and always resolves to the customer whose
records it preserves: that is what erasure and retention ask ("is this person held?"). A hold is
released, never deleted; both are audited (ids only: the reason is counsel's text).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from beartype import beartype
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims import privacy as claims_privacy
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    Ok,
    Result,
    conflict,
    invalid,
    not_found,
)
from pd_prime_demo.customers import privacy as customers_privacy
from pd_prime_demo.policies import privacy as policies_privacy
from pd_prime_demo.privacy.retention_models import HOLD_SCOPES, LegalHold

RESOURCE = "legal_hold"


@dataclass(frozen=True, slots=True)
class HoldRequest:
    scope: str  # one of HOLD_SCOPES
    subject_id: uuid.UUID
    reason: str
    matter_reference: str


async def _customer_of(
    session: AsyncSession, scope: str, subject_id: uuid.UUID
) -> uuid.UUID | None:
    if scope == "customer":
        found = await customers_privacy.rows(session, subject_id)
        return subject_id if found else None
    if scope == "policy":
        return await policies_privacy.customer_of(session, subject_id)
    return await claims_privacy.customer_of(session, subject_id)


@beartype
async def place(
    session: AsyncSession, request: HoldRequest, *, actor: Actor
) -> Result[LegalHold, DomainError]:
    if request.scope not in HOLD_SCOPES:
        return Err(
            invalid("privacy.hold_scope_unknown", f"a hold is placed on one of {HOLD_SCOPES}")
        )
    customer_id = await _customer_of(session, request.scope, request.subject_id)
    if customer_id is None:
        return Err(not_found(request.scope, f"privacy.hold_{request.scope}_not_found"))
    # The customer row is the lock an erasure takes before it looks for holds: a hold placed
    # while an erasure runs waits for it, and one committed first is seen by it.
    await customers_privacy.get(session, customer_id)
    hold = LegalHold(
        id=uuid.uuid4(),
        scope=request.scope,
        subject_id=request.subject_id,
        customer_id=customer_id,
        reason=request.reason,
        matter_reference=request.matter_reference,
        placed_at=clock.now(),
        placed_by=actor.id,
    )
    session.add(hold)
    await session.flush()
    await audit.record(
        session,
        actor,
        "privacy.hold_placed",
        RESOURCE,
        str(hold.id),
        {"scope": hold.scope, "subject_id": str(hold.subject_id), "customer_id": str(customer_id)},
    )
    return Ok(hold)


@beartype
async def release(
    session: AsyncSession, hold_id: uuid.UUID, *, note: str | None, actor: Actor
) -> Result[LegalHold, DomainError]:
    hold = await session.scalar(select(LegalHold).where(LegalHold.id == hold_id).with_for_update())
    if hold is None:
        return Err(not_found(RESOURCE, "privacy.hold_not_found"))
    if hold.released_at is not None:
        return Err(conflict("privacy.hold_released", "the hold was released already"))
    hold.released_at = clock.now()
    hold.released_by = actor.id
    hold.release_note = note
    await audit.record(
        session,
        actor,
        "privacy.hold_released",
        RESOURCE,
        str(hold.id),
        {"customer_id": str(hold.customer_id)},
    )
    return Ok(hold)


@beartype
async def get(session: AsyncSession, hold_id: uuid.UUID) -> Result[LegalHold, DomainError]:
    hold = await session.get(LegalHold, hold_id)
    return Ok(hold) if hold is not None else Err(not_found(RESOURCE, "privacy.hold_not_found"))


@beartype
async def active_for(session: AsyncSession, *, customer_id: uuid.UUID) -> list[LegalHold]:
    """The holds in force over the person's records (ix_privacy_legal_holds_active_customer)."""
    found = await session.scalars(
        select(LegalHold)
        .where(LegalHold.customer_id == customer_id, LegalHold.released_at.is_(None))
        .order_by(LegalHold.placed_at)
    )
    return list(found)


async def held_among(session: AsyncSession, customer_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these customers are under a hold: one query for a retention chunk."""
    if not customer_ids:
        return set()
    found = await session.scalars(
        select(LegalHold.customer_id)
        .where(LegalHold.customer_id.in_(customer_ids), LegalHold.released_at.is_(None))
        .distinct()
    )
    return set(found)


async def held_resources(session: AsyncSession) -> list[tuple[str, str]]:
    """The records under a hold in force, as the audit trail names them (resource type, id):
    the held policy or claim and the person, whatever the hold's scope. Audit retention keeps
    every monthly partition that holds an entry about one of them (audit.retention)."""
    rows = await session.execute(
        select(LegalHold.scope, LegalHold.subject_id, LegalHold.customer_id)
        .where(LegalHold.released_at.is_(None))
        .distinct()
    )
    held: set[tuple[str, str]] = set()
    for scope, subject_id, customer_id in rows:
        held.add((str(scope), str(subject_id)))
        held.add(("customer", str(customer_id)))
    return sorted(held)


@beartype
async def list_holds(
    session: AsyncSession, *, active_only: bool, cursor: str | None, limit: int
) -> Result[tuple[list[LegalHold], str | None], DomainError]:
    """Holds, newest first (keyset on placed_at, id)."""
    query = select(LegalHold)
    if active_only:
        query = query.where(LegalHold.released_at.is_(None))
    return await keyset_page(
        session,
        query,
        cursor=cursor,
        limit=limit,
        keys=[LegalHold.placed_at, LegalHold.id],
        descending=True,
    )
