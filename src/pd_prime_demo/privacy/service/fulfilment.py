"""Fulfilling a verified request by kind: what each right asks of the controller.

- access (Art. 15, CCPA 1798.110) and portability (Art. 20): everything held about the person
  (``access.collect``), kept as JSON and CSV for the requester or staff to download;
- rectification (Art. 16, CCPA 1798.106): the corrections through customers' own update use case
  (validated, versioned and audited there);
- restriction (Art. 18), objection (Art. 21), opt-out (CCPA 1798.120/121): withdrawals in the
  consent ledger, and for a restriction the flag ``requests.is_restricted`` reads;
- erasure (Art. 17, CCPA 1798.105): ``erasure.erase``, whose itemised report (erased,
  pseudonymised, withheld with its legal basis, Art. 17(3)(b)) is kept as the outcome.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, conflict, not_found
from pd_prime_demo.customers import service as customers
from pd_prime_demo.privacy import repository, rules
from pd_prime_demo.privacy.enums import Regime, RequestKind, RequestStatus, Source
from pd_prime_demo.privacy.models import PrivacyExport, PrivacyRequest
from pd_prime_demo.privacy.service import access, consent, corrections, erasure, requests, subjects

FORMATS = {"json": "application/json", "csv": "text/csv"}
NO_EXPORT = not_found("privacy_export")


def export_context(request_id: uuid.UUID, fmt: str) -> str:
    return f"privacy_exports.content:{request_id}:{fmt}"


async def _export(
    session: AsyncSession, request: PrivacyRequest, cipher: FieldCipher
) -> dict[str, object]:
    # GDPR Art. 15 gives the person their data, government ids too; a CCPA answer must not
    # disclose them (11 CCR 7024(d)): held, masked and listed as withheld.
    collected = await access.collect(
        session,
        request.customer_id,
        cipher=cipher,
        disclose_government_ids=request.regime == Regime.GDPR.value,
    )
    now = clock.now()
    counts: dict[str, object] = {"records": len(collected.records)}
    for fmt, content in (("json", collected.as_json()), ("csv", collected.as_csv())):
        sealed = cipher.encrypt(
            base64.b64encode(content).decode(), context=export_context(request.id, fmt)
        )
        digest = hashlib.sha256(content).hexdigest()
        await repository.add(
            session,
            PrivacyExport(
                request_id=request.id,
                format=fmt,
                media_type=FORMATS[fmt],
                content_enc=sealed,
                sha256=digest,
                created_at=now,
            ),
        )
        counts[f"{fmt}_sha256"] = digest
    return counts


async def _rectify(
    session: AsyncSession, request: PrivacyRequest, *, actor: Actor, cipher: FieldCipher
) -> Result[dict[str, object], DomainError]:
    if request.corrections_enc is None:
        return Err(conflict("privacy.no_corrections", "the request names no corrections"))
    plain = cipher.decrypt(
        request.corrections_enc, context=requests.corrections_context(request.id)
    )
    # customers' CustomerUpdate, read from its use case's signature (see corrections).
    changes: Any = corrections.CustomerUpdate.model_validate_json(plain)
    match await customers.update_customer(
        session, request.customer_id, changes, expected_version=None, actor=actor, cipher=cipher
    ):
        case Err() as err:
            return err
        case Ok(customer):
            return Ok({"fields": sorted(changes.model_fields_set), "version": customer.version})


async def _withdraw(
    session: AsyncSession, request: PrivacyRequest, *, actor: Actor
) -> Result[dict[str, object], DomainError]:
    withdrawn = []
    for purpose in rules.WITHDRAWN_BY[RequestKind(request.kind)]:
        # Recorded even when already withdrawn or never granted: the ledger then shows this
        # request's answer itself, which an opt-out must be able to prove (1798.135(c)).
        match await consent.append(
            session,
            request.customer_id,
            purpose,
            granted=False,
            source=Source.DSR,
            actor=actor,
            request_id=request.id,
        ):
            case Err() as err:
                return err
            case Ok(record):
                withdrawn.append({"purpose": purpose.value, "consent_record_id": str(record.id)})
    return Ok({"withdrawn": withdrawn})


async def _carry_out(
    session: AsyncSession, request: PrivacyRequest, *, actor: Actor, cipher: FieldCipher
) -> Result[dict[str, object], DomainError]:
    match RequestKind(request.kind):
        case RequestKind.ACCESS | RequestKind.PORTABILITY:
            return Ok(await _export(session, request, cipher))
        case RequestKind.RECTIFICATION:
            return await _rectify(session, request, actor=actor, cipher=cipher)
        case RequestKind.RESTRICTION | RequestKind.OBJECTION | RequestKind.OPT_OUT:
            return await _withdraw(session, request, actor=actor)
        case RequestKind.ERASURE:
            match await erasure.erase(
                session, request.customer_id, actor=actor, request_id=request.id, cipher=cipher
            ):
                case Err() as err:
                    return err
                case Ok(report):
                    return Ok(report.as_dict())


@beartype
async def fulfil(
    session: AsyncSession, request_id: uuid.UUID, *, actor: Actor, cipher: FieldCipher
) -> Result[PrivacyRequest, DomainError]:
    """Carry out a verified request and complete it (staff only). A refusal (a legal hold
    blocking an erasure, a correction that does not validate) changes nothing; the request
    stays verified for staff to resolve or reject with the reason."""
    if not subjects.is_staff(actor):
        return Err(requests.NOT_FOUND)
    match await requests.get(session, request_id, actor=actor, for_update=True):
        case Err() as err:
            return err
        case Ok(request):
            pass
    if request.status == RequestStatus.RECEIVED.value:
        return Err(conflict("privacy.not_verified", "the requester's identity is not verified"))
    match await requests.move(session, request, RequestStatus.IN_PROGRESS, actor=actor):
        case Err() as err:
            return err
        case Ok(_):
            pass
    match await _carry_out(session, request, actor=actor, cipher=cipher):
        case Err() as err:
            return err
        case Ok(outcome):
            request.outcome = outcome
    return await requests.move(session, request, RequestStatus.COMPLETED, actor=actor)


async def download(
    session: AsyncSession,
    request_id: uuid.UUID,
    fmt: str,
    *,
    actor: Actor,
    cipher: FieldCipher,
) -> Result[tuple[str, bytes], DomainError]:
    """An access or portability answer (media type, content), for the requester or staff."""
    match await requests.get(session, request_id, actor=actor):
        case Err() as err:
            return err
        case Ok(request):
            pass
    found = await repository.export(session, request.id, fmt) if fmt in FORMATS else None
    if found is None:
        return Err(NO_EXPORT)
    plain = cipher.decrypt(found.content_enc, context=export_context(request.id, fmt))
    return Ok((found.media_type, base64.b64decode(plain)))
