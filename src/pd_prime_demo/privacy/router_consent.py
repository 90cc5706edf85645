"""Consent routes: a person's own (``/privacy/consents``), anyone's for staff with
privacy:manage (``/privacy/customers/{customer_id}/...``), and the privacy notices."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from pd_prime_demo.api.dependencies import Session
from pd_prime_demo.api.response_patterns import fail, handle_result, problem_responses
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.identity.dependencies import PersonSession, require
from pd_prime_demo.privacy.enums import Source
from pd_prime_demo.privacy.schemas import (
    ConsentChange,
    ConsentPurposeRead,
    ConsentRecordPage,
    ConsentRecordRead,
    ConsentStateRead,
    NoticePublish,
)
from pd_prime_demo.privacy.service import consent, subjects

router = APIRouter()


async def _own(session: Session, person: PersonSession) -> uuid.UUID:
    customer_id = await subjects.own_customer(session, person.actor)
    if customer_id is None:
        fail(subjects.NO_CUSTOMER_RECORD)
    return customer_id


Own = Annotated[uuid.UUID, Depends(_own)]


async def _state(session: Session, customer_id: uuid.UUID, actor: Actor) -> ConsentStateRead:
    states = handle_result(await consent.read_state(session, customer_id, actor=actor))
    return ConsentStateRead(
        customer_id=customer_id,
        purposes=[
            ConsentPurposeRead(
                purpose=s.purpose,
                granted=s.granted,
                recorded_at=s.latest.recorded_at if s.latest else None,
                notice_version=s.latest.notice_version if s.latest else None,
                source=Source(s.latest.source) if s.latest else None,
            )
            for s in states
        ],
    )


async def _change(
    session: Session, customer_id: uuid.UUID, body: ConsentChange, actor: Actor
) -> ConsentRecordRead:
    record = handle_result(
        await consent.change(
            session,
            customer_id,
            body.purpose,
            granted=body.granted,
            actor=actor,
            notice_version=body.notice_version,
        )
    )
    return ConsentRecordRead.model_validate(record)


@router.get(
    "/consents",
    response_model=ConsentStateRead,
    responses=problem_responses(401, 403, 404),
    summary="Your consents: each purpose's current state",
)
async def read_my_consents(session: Session, person: PersonSession, own: Own) -> ConsentStateRead:
    return await _state(session, own, person.actor)


@router.post(
    "/consents",
    response_model=ConsentRecordRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    summary="Grant or withdraw one of your consents",
)
async def change_my_consent(
    body: ConsentChange, session: Session, person: PersonSession, own: Own
) -> ConsentRecordRead:
    return await _change(session, own, body, person.actor)


@router.get(
    "/customers/{customer_id}/consents",
    response_model=ConsentStateRead,
    responses=problem_responses(401, 403, 404),
    summary="A customer's consents (yours, or anyone's with privacy:manage)",
)
async def read_consents(
    customer_id: uuid.UUID, session: Session, person: PersonSession
) -> ConsentStateRead:
    return await _state(session, customer_id, person.actor)


@router.post(
    "/customers/{customer_id}/consents",
    response_model=ConsentRecordRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    summary="Record a customer's grant or withdrawal (on their instruction)",
)
async def change_consent(
    customer_id: uuid.UUID, body: ConsentChange, session: Session, person: PersonSession
) -> ConsentRecordRead:
    return await _change(session, customer_id, body, person.actor)


@router.get(
    "/customers/{customer_id}/consent-records",
    response_model=ConsentRecordPage,
    responses=problem_responses(401, 403, 404, 422),
    summary="A customer's consent ledger, newest first (the proof of each grant and withdrawal)",
)
async def consent_ledger(
    customer_id: uuid.UUID,
    session: Session,
    person: PersonSession,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ConsentRecordPage:
    rows, next_cursor = handle_result(
        await consent.ledger(session, customer_id, actor=person.actor, cursor=cursor, limit=limit)
    )
    return ConsentRecordPage(
        items=[ConsentRecordRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.post(
    "/notices",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 409, 422),
    summary="Publish a version of the privacy notice (consents are given under one)",
)
async def publish_notice(
    body: NoticePublish,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.PRIVACY_MANAGE))],
) -> None:
    handle_result(
        await consent.publish_notice(
            session, version=body.version, text=body.text, url=body.url, actor=actor
        )
    )
