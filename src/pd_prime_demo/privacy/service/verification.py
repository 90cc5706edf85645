"""Verifying who asks: a one-time code e-mailed to the address ON FILE, never to an address the
requester gives (GDPR Art. 12(6), CCPA regulations 7060: verify against information the
business already holds), so a stranger who knows someone's e-mail learns nothing and gets
nothing.

The code is six digits, stored as a keyed HMAC, expires after
``privacy_verification_ttl_minutes`` and allows ``MAX_ATTEMPTS`` tries; after that the request
needs a new code. The public intake answers 202 whether or not the address is known.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    invalid,
)
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers import service as customers
from pd_prime_demo.identity import mailbox
from pd_prime_demo.privacy import repository
from pd_prime_demo.privacy.enums import Channel, Regime, RequestKind, RequestStatus
from pd_prime_demo.privacy.models import PrivacyRequest, PrivacyVerification
from pd_prime_demo.privacy.service import requests, subjects

MAX_ATTEMPTS = 5
_MAIL_KIND = "privacy-verification"
_INTAKE = Actor.system("privacy-intake")
WRONG_CODE = invalid(
    "privacy.verification_failed",
    "the code is wrong, expired or used up: ask for a new one",
    FieldIssue("#/code", "not the code sent for this request"),
)


def _digest(rt: Runtime, request_id: uuid.UUID, code: str) -> str:
    return rt.cipher.fingerprint(f"privacy-verification:{request_id}:{code}".encode())


async def send_code(
    session: AsyncSession, rt: Runtime, request: PrivacyRequest, *, actor: Actor
) -> None:
    """A fresh code for ``request`` (replacing any earlier one), mailed after commit to the
    customer's address on file."""
    code = f"{secrets.randbelow(10**6):06d}"
    now = clock.now()
    ttl = timedelta(minutes=rt.settings.privacy_verification_ttl_minutes)
    found = await repository.verification(session, request.id, for_update=True)
    if found is None:
        found = PrivacyVerification(request_id=request.id)
    found.code_digest = _digest(rt, request.id, code)
    found.expires_at = now + ttl
    found.attempts = 0
    found.consumed_at = None
    await repository.add(session, found)
    mailed = False
    match await customers.get_customer(session, request.customer_id, actor=_INTAKE):
        case Ok(customer):
            minutes = rt.settings.privacy_verification_ttl_minutes
            # Capped per recipient and hour (identity.mailbox): the form cannot flood an inbox.
            mailed = await mailbox.queue_limited(
                session,
                rt,
                kind=_MAIL_KIND,
                to=customer.email,
                subject="Confirm your privacy request",
                body=(
                    f"We received a {request.kind.replace('_', ' ')} request about your data "
                    f"(reference {request.id}).\n\nIf you made it, confirm it with this code "
                    f"within {minutes} minutes: {code}\n\n"
                    "If you did not, ignore this message: nothing happens without the code."
                ),
            )
        case Err():
            pass
    await audit.record(
        session,
        actor,
        "privacy_request.code_sent",
        "privacy_request",
        str(request.id),
        {"mailed": mailed},
    )


@beartype
async def intake(
    session: AsyncSession, rt: Runtime, email: str, kind: RequestKind, regime: Regime
) -> Result[None, DomainError]:
    """The public form: a request (and a code to the address on file) for each customer whose
    address it is, and nothing for an unknown address; the caller answers the same either way.
    Only the kind is checked first, the same for every address."""
    if isinstance(checked := requests.check_kind(kind, regime, None), Err):
        return checked
    for customer_id in await subjects.customer_ids_by_email(session, email):
        # The same form sent again while its code is unanswered re-sends a code on the waiting
        # request instead of opening another: anyone may fill the form in a person's name, and
        # each request is a deadline staff must see to. The lock serialises two at once.
        await locks.lock(session, f"privacy-intake:{customer_id}:{kind.value}:{regime.value}")
        waiting = await repository.unverified_intake(session, customer_id, kind.value, regime.value)
        if waiting is not None:
            await send_code(session, rt, waiting, actor=_INTAKE)
            continue
        match await requests.open_request(
            session,
            customer_id,
            kind,
            regime,
            channel=Channel.INTAKE,
            actor=_INTAKE,
            cipher=rt.cipher,
        ):
            case Ok(request):
                await send_code(session, rt, request, actor=_INTAKE)
            case Err():
                pass
    return Ok(None)


@beartype
async def resend(
    session: AsyncSession, rt: Runtime, request_id: uuid.UUID, *, actor: Actor
) -> Result[PrivacyRequest, DomainError]:
    """Staff send a new code (the old one expired or was used up)."""
    if not subjects.is_staff(actor):
        return Err(requests.NOT_FOUND)
    match await requests.get(session, request_id, actor=actor, for_update=True):
        case Err() as err:
            return err
        case Ok(request) if request.status != RequestStatus.RECEIVED.value:
            return Err(conflict("privacy.already_verified", "this request is past verification"))
        case Ok(request):
            await send_code(session, rt, request, actor=actor)
            return Ok(request)


@beartype
async def submit_code(
    session: AsyncSession, rt: Runtime, request_id: uuid.UUID, code: str
) -> Result[PrivacyRequest, DomainError]:
    """Check a code. A wrong one counts an attempt that stays counted although the answer is
    an error: the caller commits the session whatever the result (see the route)."""
    found = await repository.verification(session, request_id, for_update=True)
    request = await repository.get_request(session, request_id, for_update=True)
    if found is None or request is None or request.status != RequestStatus.RECEIVED.value:
        return Err(WRONG_CODE)
    now = clock.now()
    if found.consumed_at is not None or found.expires_at <= now or found.attempts >= MAX_ATTEMPTS:
        return Err(WRONG_CODE)
    if not secrets.compare_digest(_digest(rt, request_id, code), found.code_digest):
        found.attempts += 1
        await repository.add(session, found)
        await audit.record(
            session,
            _INTAKE,
            "privacy_request.verification_failed",
            "privacy_request",
            str(request_id),
            {"attempts": found.attempts},
        )
        return Err(WRONG_CODE)
    found.consumed_at = now
    await repository.add(session, found)
    return await requests.move(
        session, request, RequestStatus.VERIFIED, actor=_INTAKE, note="code to the address on file"
    )
