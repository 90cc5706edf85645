"""Data subject requests as a workflow: received -> verified -> in progress -> completed, or
rejected with a reason; every change in the request's history and the audit log.

Deadlines run from receipt: GDPR one month, extendable by two with a reason (Art. 12(3)); CCPA
45 days, extendable once by 45 (1798.130(a)(2)). ``deadline_report`` is what the P-series
control samples.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from beartype import beartype
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    invalid,
    not_found,
)
from pd_prime_demo.privacy import repository, rules
from pd_prime_demo.privacy.enums import Channel, Regime, RequestKind, RequestStatus
from pd_prime_demo.privacy.models import PrivacyRequest, PrivacyRequestEvent
from pd_prime_demo.privacy.service import corrections as corrections_rules
from pd_prime_demo.privacy.service import subjects

NOT_FOUND = not_found("privacy_request")


def corrections_context(request_id: uuid.UUID) -> str:
    return f"privacy_requests.corrections:{request_id}"


def check_kind(
    kind: RequestKind, regime: Regime, corrections: dict[str, Any] | None
) -> Result[BaseModel | None, DomainError]:
    """The request's kind is a right of its regime; the corrections, parsed, if it is a
    rectification (which must name them)."""
    if kind not in rules.KINDS_BY_REGIME[regime]:
        return Err(
            invalid(
                "privacy.kind_not_in_regime",
                f"{regime.value} gives no right of {kind.value}",
                FieldIssue("#/kind", f"not a {regime.value} request kind"),
            )
        )
    if (kind is RequestKind.RECTIFICATION) != (corrections is not None):
        return Err(
            invalid(
                "privacy.corrections",
                "a rectification names its corrections, and only a rectification does",
                FieldIssue("#/corrections", "required for rectification, else not allowed"),
            )
        )
    return Ok(None) if corrections is None else corrections_rules.parse(corrections)


async def move(
    session: AsyncSession,
    request: PrivacyRequest,
    target: RequestStatus,
    *,
    actor: Actor,
    note: str | None = None,
) -> Result[PrivacyRequest, DomainError]:
    """One step of the state machine, in the history and the audit log together."""
    current = RequestStatus(request.status)
    if not rules.may_transition(current, target):
        return Err(
            conflict(
                "privacy.request_state",
                f"a {current.value.replace('_', ' ')} request cannot become {target.value}",
            )
        )
    now = clock.now()
    request.status = target.value
    if target is RequestStatus.VERIFIED:
        request.verified_at = now
    if target in rules.CLOSED_STATUSES:
        request.closed_at = now
    if target is RequestStatus.REJECTED:
        request.rejection_reason = note
    await _event(session, request, current, target, actor=actor, note=note)
    return Ok(request)


async def _event(
    session: AsyncSession,
    request: PrivacyRequest,
    current: RequestStatus | None,
    target: RequestStatus,
    *,
    actor: Actor,
    note: str | None,
) -> None:
    event = PrivacyRequestEvent(
        id=uuid.uuid4(),
        request_id=request.id,
        from_status=None if current is None else current.value,
        to_status=target.value,
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        note=note,
        occurred_at=clock.now(),
    )
    await repository.add(session, request, event)
    await audit.record(
        session,
        actor,
        f"privacy_request.{target.value}",
        "privacy_request",
        str(request.id),
        {"customer_id": str(request.customer_id), "kind": request.kind, "from": event.from_status},
    )


async def open_request(
    session: AsyncSession,
    customer_id: uuid.UUID,
    kind: RequestKind,
    regime: Regime,
    *,
    channel: Channel,
    actor: Actor,
    cipher: FieldCipher,
    corrections: dict[str, Any] | None = None,
) -> Result[PrivacyRequest, DomainError]:
    """Record a request as received (its deadline runs from now); a signed-in person's own is
    verified at once by their login (the verification Art. 12(6) asks for is the sign-in)."""
    match check_kind(kind, regime, corrections):
        case Err() as err:
            return err
        case Ok(parsed):
            pass
    now = clock.now()
    request = PrivacyRequest(
        id=uuid.uuid4(),
        customer_id=customer_id,
        kind=kind.value,
        regime=regime.value,
        status=RequestStatus.RECEIVED.value,
        channel=channel.value,
        received_at=now,
        due_on=rules.due_on(regime, now.date()),
        requested_by=actor.id,
    )
    if parsed is not None:
        request.corrections_enc = cipher.encrypt(
            parsed.model_dump_json(exclude_unset=True),
            context=corrections_context(request.id),
        )
    await _event(session, request, None, RequestStatus.RECEIVED, actor=actor, note=None)
    if channel is Channel.SELF:
        return await move(session, request, RequestStatus.VERIFIED, actor=actor, note="login")
    return Ok(request)


@beartype
async def submit(
    session: AsyncSession,
    kind: RequestKind,
    regime: Regime,
    *,
    actor: Actor,
    cipher: FieldCipher,
    customer_id: uuid.UUID | None = None,
    corrections: dict[str, Any] | None = None,
) -> Result[PrivacyRequest, DomainError]:
    """A request by a signed-in person for themself, or taken by staff for ``customer_id``
    (verified afterwards by a code to the address on file: ``verification.send_code``)."""
    own = await subjects.own_customer(session, actor)
    if customer_id is None or customer_id == own:
        if own is None:
            return Err(subjects.NO_CUSTOMER_RECORD)
        return await open_request(
            session,
            own,
            kind,
            regime,
            channel=Channel.SELF,
            actor=actor,
            cipher=cipher,
            corrections=corrections,
        )
    match await subjects.acting_for(session, customer_id, actor=actor):
        case Err() as err:
            return err
        case Ok(_):
            pass
    return await open_request(
        session,
        customer_id,
        kind,
        regime,
        channel=Channel.STAFF,
        actor=actor,
        cipher=cipher,
        corrections=corrections,
    )


async def get(
    session: AsyncSession, request_id: uuid.UUID, *, actor: Actor, for_update: bool = False
) -> Result[PrivacyRequest, DomainError]:
    """The request if ``actor`` may see it (staff, or the person it is about); else 404."""
    request = await repository.get_request(session, request_id, for_update=for_update)
    if request is None:
        return Err(NOT_FOUND)
    if subjects.is_staff(actor) or await subjects.own_customer(session, actor) == (
        request.customer_id
    ):
        return Ok(request)
    return Err(NOT_FOUND)


async def list_requests(
    session: AsyncSession,
    *,
    actor: Actor,
    customer_id: uuid.UUID | None,
    status: RequestStatus | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[PrivacyRequest], str | None], DomainError]:
    """Staff: every request (filtered); a person: only their own, whatever they ask for."""
    if not subjects.is_staff(actor):
        own = await subjects.own_customer(session, actor)
        if own is None:
            return Ok(([], None))
        customer_id = own
    return await repository.request_page(
        session, customer_id=customer_id, status=status, cursor=cursor, limit=limit
    )


async def history(
    session: AsyncSession, request_id: uuid.UUID, *, actor: Actor
) -> Result[list[PrivacyRequestEvent], DomainError]:
    match await get(session, request_id, actor=actor):
        case Err() as err:
            return err
        case Ok(request):
            return Ok(await repository.history(session, request.id))


async def _staff_request(
    session: AsyncSession, request_id: uuid.UUID, actor: Actor
) -> Result[PrivacyRequest, DomainError]:
    if not subjects.is_staff(actor):
        return Err(NOT_FOUND)
    return await get(session, request_id, actor=actor, for_update=True)


@beartype
async def extend(
    session: AsyncSession, request_id: uuid.UUID, reason: str, *, actor: Actor
) -> Result[PrivacyRequest, DomainError]:
    """Extend the deadline once, with the reason the person is told (Art. 12(3))."""
    match await _staff_request(session, request_id, actor):
        case Err() as err:
            return err
        case Ok(request):
            pass
    refusal = rules.extension_refusal(
        status=RequestStatus(request.status),
        already_extended=request.extended_due_on is not None,
        original_due_on=request.due_on,
        today=clock.today(),
    )
    if refusal is not None:
        return Err(conflict(refusal.code, refusal.detail))
    request.extended_due_on = rules.due_on(
        Regime(request.regime), request.received_at.date(), extended=True
    )
    request.extension_reason = reason
    await repository.add(session, request)
    await audit.record(
        session,
        actor,
        "privacy_request.extended",
        "privacy_request",
        str(request.id),
        {"due_on": request.extended_due_on.isoformat()},
    )
    return Ok(request)


@beartype
async def reject(
    session: AsyncSession, request_id: uuid.UUID, reason: str, *, actor: Actor
) -> Result[PrivacyRequest, DomainError]:
    """Refuse with the reason given to the person (Art. 12(4): and their right to complain)."""
    match await _staff_request(session, request_id, actor):
        case Err() as err:
            return err
        case Ok(request):
            return await move(session, request, RequestStatus.REJECTED, actor=actor, note=reason)


async def is_restricted(session: AsyncSession, customer_id: uuid.UUID) -> bool:
    """Whether processing of the person's data is restricted (Art. 18): other code asks this
    before anything beyond storage, such as marketing, profiling or a renewal offer mailing."""
    return await repository.is_restricted(session, customer_id)


@beartype
async def lift_restriction(
    session: AsyncSession, request_id: uuid.UUID, *, actor: Actor
) -> Result[PrivacyRequest, DomainError]:
    """Lift a completed restriction (Art. 18(3): the person is told before it is lifted)."""
    match await _staff_request(session, request_id, actor):
        case Err() as err:
            return err
        case Ok(request):
            pass
    if request.kind != RequestKind.RESTRICTION.value or request.status != "completed":
        return Err(conflict("privacy.not_restricted", "only a completed restriction lifts"))
    if request.lifted_at is not None:
        return Err(conflict("privacy.already_lifted", "this restriction is already lifted"))
    request.lifted_at = clock.now()
    await repository.add(session, request)
    await audit.record(
        session,
        actor,
        "privacy_request.restriction_lifted",
        "privacy_request",
        str(request.id),
        {"customer_id": str(request.customer_id)},
    )
    return Ok(request)


@dataclass(frozen=True, slots=True)
class DeadlineReport:
    """Requests past their deadline now, and those answered late in a period."""

    as_of: datetime
    period_start: datetime
    open_overdue: int
    overdue_ids: tuple[uuid.UUID, ...]  # the most overdue first, at most 100
    closed_in_period: int
    closed_late: int
    late_ids: tuple[uuid.UUID, ...]

    @property
    def healthy(self) -> bool:
        return self.open_overdue == 0 and self.closed_late == 0


async def deadline_report(
    session: AsyncSession, *, now: datetime, since: datetime | None = None
) -> DeadlineReport:
    """The P-series control's figures: aggregates in PostgreSQL, bounded id lists.
    ``since`` defaults to 30 days before ``now``."""
    start = since if since is not None else now - timedelta(days=30)
    today = now.date()
    overdue = await repository.overdue(session, today=today, limit=100)
    total, late, late_ids = await repository.closed_counts(session, since=start, until=now)
    return DeadlineReport(
        as_of=now,
        period_start=start,
        open_overdue=await repository.overdue_count(session, today=today),
        overdue_ids=tuple(r.id for r in overdue),
        closed_in_period=total,
        closed_late=late,
        late_ids=tuple(late_ids),
    )
