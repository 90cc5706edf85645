"""The privacy domain's queries: the only module that builds SQL on its tables."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Result
from pd_prime_demo.privacy.enums import Channel, Purpose, RequestKind, RequestStatus
from pd_prime_demo.privacy.models import (
    ConsentRecord,
    PrivacyExport,
    PrivacyNotice,
    PrivacyRequest,
    PrivacyRequestEvent,
    PrivacyVerification,
)
from pd_prime_demo.privacy.rules import CLOSED_STATUSES, OPEN_STATUSES

_OPEN = [s.value for s in OPEN_STATUSES]
_CLOSED = [s.value for s in CLOSED_STATUSES]


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


# --- notices -------------------------------------------------------------------------------


async def notice(session: AsyncSession, version: str) -> PrivacyNotice | None:
    return await session.get(PrivacyNotice, version)


async def latest_notice(session: AsyncSession) -> PrivacyNotice | None:
    query = select(PrivacyNotice).order_by(PrivacyNotice.published_at.desc()).limit(1)
    return (await session.scalars(query)).first()


# --- consent -------------------------------------------------------------------------------


async def latest_consents(session: AsyncSession, customer_id: uuid.UUID) -> list[ConsentRecord]:
    """The latest record of each purpose the person has one for (one index range each)."""
    query = (
        select(ConsentRecord)
        .where(ConsentRecord.customer_id == customer_id)
        .order_by(ConsentRecord.purpose, ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
        .ext(distinct_on(ConsentRecord.purpose))
    )
    return list((await session.scalars(query)).all())


async def latest_consent(
    session: AsyncSession, customer_id: uuid.UUID, purpose: Purpose
) -> ConsentRecord | None:
    query = (
        select(ConsentRecord)
        .where(ConsentRecord.customer_id == customer_id, ConsentRecord.purpose == purpose.value)
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
        .limit(1)
    )
    return (await session.scalars(query)).first()


async def consent_page(
    session: AsyncSession, customer_id: uuid.UUID, *, cursor: str | None, limit: int
) -> Result[tuple[list[ConsentRecord], str | None], DomainError]:
    query = select(ConsentRecord).where(ConsentRecord.customer_id == customer_id)
    return await keyset_page(
        session,
        query,
        cursor=cursor,
        limit=limit,
        keys=(ConsentRecord.recorded_at, ConsentRecord.id),
        descending=True,
    )


# --- requests ------------------------------------------------------------------------------


async def get_request(
    session: AsyncSession, request_id: uuid.UUID, *, for_update: bool = False
) -> PrivacyRequest | None:
    return await session.get(PrivacyRequest, request_id, with_for_update=for_update)


async def request_page(
    session: AsyncSession,
    *,
    customer_id: uuid.UUID | None,
    status: RequestStatus | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[PrivacyRequest], str | None], DomainError]:
    query = select(PrivacyRequest)
    if customer_id is not None:
        query = query.where(PrivacyRequest.customer_id == customer_id)
    if status is not None:
        query = query.where(PrivacyRequest.status == status.value)
    return await keyset_page(
        session,
        query,
        cursor=cursor,
        limit=limit,
        keys=(PrivacyRequest.received_at, PrivacyRequest.id),
        descending=True,
    )


async def unverified_intake(
    session: AsyncSession, customer_id: uuid.UUID, kind: str, regime: str
) -> PrivacyRequest | None:
    """The person's intake request of this kind still waiting for its code, locked (on
    ix_privacy_requests_customer: a person has few requests)."""
    query = (
        select(PrivacyRequest)
        .where(
            PrivacyRequest.customer_id == customer_id,
            PrivacyRequest.kind == kind,
            PrivacyRequest.regime == regime,
            PrivacyRequest.channel == Channel.INTAKE.value,
            PrivacyRequest.status == RequestStatus.RECEIVED.value,
        )
        .order_by(PrivacyRequest.received_at.desc(), PrivacyRequest.id.desc())
        .limit(1)
        .with_for_update()
    )
    return (await session.scalars(query)).first()


async def stale_unverified(
    session: AsyncSession, *, before: datetime, limit: int
) -> list[PrivacyRequest]:
    """Requests still waiting for their code whose last code (or, with none, whose receipt)
    expired before ``before``: locked, skipping any another transaction holds."""
    expiry = func.coalesce(PrivacyVerification.expires_at, PrivacyRequest.received_at)
    query = (
        select(PrivacyRequest)
        .outerjoin(PrivacyVerification, PrivacyVerification.request_id == PrivacyRequest.id)
        .where(PrivacyRequest.status == RequestStatus.RECEIVED.value, expiry < before)
        .order_by(PrivacyRequest.received_at, PrivacyRequest.id)
        .limit(limit)
        .with_for_update(of=PrivacyRequest, skip_locked=True)
    )
    return list((await session.scalars(query)).all())


async def history(session: AsyncSession, request_id: uuid.UUID) -> list[PrivacyRequestEvent]:
    """A request's status changes, oldest first (a handful per request)."""
    query = (
        select(PrivacyRequestEvent)
        .where(PrivacyRequestEvent.request_id == request_id)
        .order_by(PrivacyRequestEvent.occurred_at, PrivacyRequestEvent.id)
    )
    return list((await session.scalars(query)).all())


async def is_restricted(session: AsyncSession, customer_id: uuid.UUID) -> bool:
    query = select(PrivacyRequest.id).where(
        PrivacyRequest.customer_id == customer_id,
        PrivacyRequest.kind == RequestKind.RESTRICTION.value,
        PrivacyRequest.status == RequestStatus.COMPLETED.value,
        PrivacyRequest.lifted_at.is_(None),
    )
    return await session.scalar(query.limit(1)) is not None


def _answerable() -> tuple[ColumnElement[bool], ...]:
    """Open requests whose requester was verified: only those can be answered, so only they
    can be late. An unverified one (anyone may file one in a person's name through the public
    intake) is no deadline the controller can miss (11 CCR 7060; GDPR Art. 12(6))."""
    return (PrivacyRequest.status.in_(_OPEN), PrivacyRequest.verified_at.is_not(None))


async def overdue(session: AsyncSession, *, today: date, limit: int) -> list[PrivacyRequest]:
    """Open requests whose (extended) deadline has passed, most overdue first."""
    deadline = func.coalesce(PrivacyRequest.extended_due_on, PrivacyRequest.due_on)
    query = (
        select(PrivacyRequest)
        .where(*_answerable(), deadline < today)
        .order_by(deadline, PrivacyRequest.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def overdue_count(session: AsyncSession, *, today: date) -> int:
    deadline = func.coalesce(PrivacyRequest.extended_due_on, PrivacyRequest.due_on)
    query = select(func.count()).where(*_answerable(), deadline < today)
    return int(await session.scalar(query) or 0)


async def closed_counts(
    session: AsyncSession, *, since: datetime, until: datetime
) -> tuple[int, int, list[uuid.UUID]]:
    """Requests closed in [since, until): how many, how many after their deadline, and the
    ids of the late ones (bounded)."""
    deadline = func.coalesce(PrivacyRequest.extended_due_on, PrivacyRequest.due_on)
    in_period = and_(
        PrivacyRequest.status.in_(_CLOSED),
        PrivacyRequest.closed_at >= since,
        PrivacyRequest.closed_at < until,
    )
    # A day's deadline is met by an answer on that day (in UTC, the clock's zone).
    late = and_(
        PrivacyRequest.verified_at.is_not(None),
        func.date(func.timezone("UTC", PrivacyRequest.closed_at)) > deadline,
    )
    total = int(await session.scalar(select(func.count()).where(in_period)) or 0)
    late_ids = list(
        (
            await session.scalars(
                select(PrivacyRequest.id)
                .where(in_period, late)
                .order_by(PrivacyRequest.closed_at)
                .limit(100)
            )
        ).all()
    )
    late_total = int(await session.scalar(select(func.count()).where(in_period, late)) or 0)
    return total, late_total, late_ids


# --- verification and exports --------------------------------------------------------------


async def verification(
    session: AsyncSession, request_id: uuid.UUID, *, for_update: bool = False
) -> PrivacyVerification | None:
    return await session.get(PrivacyVerification, request_id, with_for_update=for_update)


async def export(session: AsyncSession, request_id: uuid.UUID, fmt: str) -> PrivacyExport | None:
    return await session.get(PrivacyExport, (request_id, fmt))
