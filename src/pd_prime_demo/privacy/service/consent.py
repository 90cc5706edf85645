"""The consent ledger: notices, grants and withdrawals per person and purpose, append-only.

GDPR Art. 7(1): the controller must be able to demonstrate that the person consented, so every
grant names the notice version it was given under, when, through which channel and by whom;
Art. 7(3): withdrawing is as easy as giving (the same call). CCPA 1798.120 / 1798.121: an
opt-out of sale/sharing or a limit on sensitive PI is a withdrawal of that purpose. The current
state is derived (the latest record per purpose); nothing is ever overwritten.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    forbidden,
    invalid,
)
from pd_prime_demo.privacy import repository
from pd_prime_demo.privacy.enums import Purpose, Source
from pd_prime_demo.privacy.models import ConsentRecord, PrivacyNotice
from pd_prime_demo.privacy.service import subjects

NO_NOTICE = invalid(
    "privacy.no_notice",
    "no privacy notice is published: publish one before recording consent",
)


@dataclass(frozen=True, slots=True)
class ConsentState:
    """A purpose's current state: the latest record, or none (never asked: not consented)."""

    purpose: Purpose
    granted: bool
    latest: ConsentRecord | None


@beartype
async def publish_notice(
    session: AsyncSession, *, version: str, text: str, url: str, actor: Actor
) -> Result[PrivacyNotice, DomainError]:
    if not subjects.is_staff(actor):
        return Err(forbidden("auth.permission_missing", "this requires privacy:manage"))
    if await repository.notice(session, version) is not None:
        return Err(conflict("privacy.notice_exists", "a notice of this version is published"))
    notice = PrivacyNotice(
        version=version,
        published_at=clock.now(),
        text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        url=url,
    )
    await repository.add(session, notice)
    await audit.record(session, actor, "privacy.notice_published", "privacy_notice", version)
    return Ok(notice)


async def current(session: AsyncSession, customer_id: uuid.UUID, purpose: Purpose) -> bool:
    """Whether ``customer_id`` consents to ``purpose`` now (for other code: a marketing run
    asks this before it sends). No record is no consent (Art. 4(11): consent is an
    unambiguous affirmative act)."""
    latest = await repository.latest_consent(session, customer_id, purpose)
    return latest is not None and latest.granted


async def state(session: AsyncSession, customer_id: uuid.UUID) -> list[ConsentState]:
    """Every purpose's current state for one person, in the enum's order."""
    latest = {Purpose(r.purpose): r for r in await repository.latest_consents(session, customer_id)}
    return [
        ConsentState(p, latest[p].granted if p in latest else False, latest.get(p)) for p in Purpose
    ]


async def append(
    session: AsyncSession,
    customer_id: uuid.UUID,
    purpose: Purpose,
    *,
    granted: bool,
    source: Source,
    actor: Actor,
    notice_version: str | None = None,
    request_id: uuid.UUID | None = None,
) -> Result[ConsentRecord, DomainError]:
    """Append one record (no authorization: the callers have checked it)."""
    if notice_version is None:
        notice = await repository.latest_notice(session)
    else:
        notice = await repository.notice(session, notice_version)
    if notice is None and notice_version is None and granted:
        return Err(NO_NOTICE)  # a withdrawal is valid before any notice was published
    if notice is None and notice_version is not None:
        return Err(
            invalid(
                "privacy.unknown_notice",
                "no privacy notice has this version",
                FieldIssue("#/notice_version", "not a published notice version"),
            )
        )
    record = ConsentRecord(
        id=uuid.uuid4(),
        customer_id=customer_id,
        purpose=purpose.value,
        granted=granted,
        notice_version=None if notice is None else notice.version,
        source=source.value,
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        request_id=request_id,
        recorded_at=clock.now(),
    )
    await repository.add(session, record)
    await audit.record(
        session,
        actor,
        "consent.granted" if granted else "consent.withdrawn",
        "customer",
        str(customer_id),
        {
            "consent_record_id": str(record.id),
            "purpose": purpose.value,
            "notice_version": None if notice is None else notice.version,
            "source": source.value,
        },
    )
    return Ok(record)


@beartype
async def change(
    session: AsyncSession,
    customer_id: uuid.UUID,
    purpose: Purpose,
    *,
    granted: bool,
    actor: Actor,
    notice_version: str | None = None,
) -> Result[ConsentRecord, DomainError]:
    """A person grants or withdraws a purpose (their own, or staff on their instruction)."""
    match await subjects.acting_for(session, customer_id, actor=actor):
        case Err() as err:
            return err
        case Ok(_):
            pass
    own = await subjects.own_customer(session, actor) == customer_id
    return await append(
        session,
        customer_id,
        purpose,
        granted=granted,
        source=subjects.source_of(actor, own=own),
        actor=actor,
        notice_version=notice_version,
    )


async def read_state(
    session: AsyncSession, customer_id: uuid.UUID, *, actor: Actor
) -> Result[list[ConsentState], DomainError]:
    match await subjects.acting_for(session, customer_id, actor=actor):
        case Err() as err:
            return err
        case Ok(_):
            return Ok(await state(session, customer_id))


async def ledger(
    session: AsyncSession,
    customer_id: uuid.UUID,
    *,
    actor: Actor,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[ConsentRecord], str | None], DomainError]:
    """The person's records, newest first: the proof of every grant and withdrawal."""
    match await subjects.acting_for(session, customer_id, actor=actor):
        case Err() as err:
            return err
        case Ok(_):
            return await repository.consent_page(session, customer_id, cursor=cursor, limit=limit)
