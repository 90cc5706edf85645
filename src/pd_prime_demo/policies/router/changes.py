"""The lifecycle changes: endorse, cancel, reinstate, renew, non-renew; and the underwriting
referrals of changes.

Every change needs ``If-Match`` with the policy's ETag (428 without it, 412 when the policy
changed since it was read), and its response carries the new ETag.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status
from fastapi.responses import JSONResponse

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import Session
from pd_prime_demo.api.http_conditions import expected_version
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import DomainError, Result
from pd_prime_demo.identity.dependencies import CurrentActor, require
from pd_prime_demo.policies import service
from pd_prime_demo.policies.router.presenting import recorded
from pd_prime_demo.policies.schemas import (
    CancellationCreate,
    ChangeDecision,
    ChangeRecorded,
    EndorsementCreate,
    NonRenewalCreate,
    PolicyChangePage,
    PolicyChangeRead,
    ReinstatementCreate,
    RenewalRead,
)

router = APIRouter(prefix=API_V1, tags=["policies"])

Writer = Annotated[Actor, Depends(require(Permission.POLICIES_WRITE))]
Decider = Annotated[Actor, Depends(require(Permission.UNDERWRITING_DECIDE))]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The policy's ETag from your last read (required).",
    ),
]
CHANGED = problem_responses(401, 403, 404, 409, 412, 422, 428)


def _version(if_match: str | None) -> int | None:
    return handle_result(expected_version(if_match))


def _changed(
    result: Result[service.Applied, DomainError], response: Response, policy_id: uuid.UUID
) -> ChangeRecorded:
    return _applied(handle_result(result), response, policy_id)


def _applied(applied: service.Applied, response: Response, policy_id: uuid.UUID) -> ChangeRecorded:
    response.headers["Location"] = f"{API_V1}/policies/{policy_id}/transactions"
    response.headers["ETag"] = f'"{applied.policy_version}"'
    return recorded(applied)


@router.post(
    "/policies/{policy_id}/endorsements",
    response_model=ChangeRecorded,
    status_code=status.HTTP_201_CREATED,
    responses={
        202: {"model": PolicyChangeRead, "description": "Referred to underwriting"},
        **CHANGED,
    },
    summary="Endorse: change risk or coverages (merge patches), re-rated and prorated",
)
async def endorse_policy(
    policy_id: uuid.UUID,
    body: EndorsementCreate,
    response: Response,
    session: Session,
    actor: Writer,
    if_match: IfMatch = None,
) -> ChangeRecorded | JSONResponse:
    version = _version(if_match)
    outcome = handle_result(
        await service.endorse(
            session,
            policy_id,
            effective_on=body.effective_on,
            risk=body.risk,
            coverages={
                code: choice.model_dump(exclude_none=True) if choice is not None else None
                for code, choice in body.coverages.items()
            }
            if body.coverages is not None
            else None,
            note=body.note,
            on_conflict=body.on_conflict,
            expected_version=version,
            actor=actor,
        )
    )
    if isinstance(outcome, service.Referred):
        referred = PolicyChangeRead.model_validate(outcome.change)
        return JSONResponse(
            referred.model_dump(mode="json"),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Location": f"{API_V1}/policy-changes/{outcome.change.id}"},
        )
    return _applied(outcome, response, policy_id)


@router.post(
    "/policies/{policy_id}/cancellations",
    response_model=ChangeRecorded,
    status_code=status.HTTP_201_CREATED,
    responses=CHANGED,
    summary="Cancel (flat, pro-rata or short-rate per the product and reason)",
)
async def cancel_policy(
    policy_id: uuid.UUID,
    body: CancellationCreate,
    response: Response,
    session: Session,
    actor: Writer,
    if_match: IfMatch = None,
) -> ChangeRecorded:
    version = _version(if_match)
    return _changed(
        await service.cancel(
            session,
            policy_id,
            effective_on=body.effective_on,
            reason_code=body.reason_code,
            note=body.note,
            on_conflict=body.on_conflict,
            expected_version=version,
            actor=actor,
        ),
        response,
        policy_id,
    )


@router.post(
    "/policies/{policy_id}/reinstatements",
    response_model=ChangeRecorded,
    status_code=status.HTTP_201_CREATED,
    responses=CHANGED,
    summary="Reinstate a cancelled policy, with or without a lapse",
)
async def reinstate_policy(
    policy_id: uuid.UUID,
    body: ReinstatementCreate,
    response: Response,
    session: Session,
    actor: Writer,
    if_match: IfMatch = None,
) -> ChangeRecorded:
    version = _version(if_match)
    return _changed(
        await service.reinstate(
            session,
            policy_id,
            effective_on=body.effective_on,
            note=body.note,
            expected_version=version,
            actor=actor,
        ),
        response,
        policy_id,
    )


@router.post(
    "/policies/{policy_id}/renewal-offers",
    response_model=RenewalRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Offer the renewal: re-rated with the version in force for renewals then",
)
async def offer_renewal(policy_id: uuid.UUID, session: Session, actor: Writer) -> RenewalRead:
    return RenewalRead.model_validate(
        handle_result(await service.offer(session, policy_id, actor=actor))
    )


@router.post(
    "/policies/{policy_id}/renewals",
    response_model=ChangeRecorded,
    status_code=status.HTTP_201_CREATED,
    responses=CHANGED,
    summary="Accept the open renewal offer: the new term starts at expiry",
)
async def accept_renewal(
    policy_id: uuid.UUID,
    response: Response,
    session: Session,
    actor: Writer,
    if_match: IfMatch = None,
) -> ChangeRecorded:
    version = _version(if_match)
    return _changed(
        await service.accept(session, policy_id, actor=actor, expected_version=version),
        response,
        policy_id,
    )


@router.post(
    "/policies/{policy_id}/non-renewals",
    response_model=ChangeRecorded,
    status_code=status.HTTP_201_CREATED,
    responses=CHANGED,
    summary="Give notice of non-renewal, with its reason",
)
async def non_renew_policy(
    policy_id: uuid.UUID,
    body: NonRenewalCreate,
    response: Response,
    session: Session,
    actor: Writer,
    if_match: IfMatch = None,
) -> ChangeRecorded:
    version = _version(if_match)
    return _changed(
        await service.non_renew(
            session, policy_id, reason=body.reason, actor=actor, expected_version=version
        ),
        response,
        policy_id,
    )


@router.get(
    "/underwriting/policy-changes",
    response_model=PolicyChangePage,
    responses=problem_responses(401, 403, 422),
    summary="Referred policy changes within your authority, oldest first",
)
async def list_referred_changes(
    session: Session,
    actor: Decider,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PolicyChangePage:
    rows, next_cursor = handle_result(
        await service.changes.referred(session, actor=actor, cursor=cursor, limit=limit)
    )
    return PolicyChangePage(
        items=[PolicyChangeRead.model_validate(c) for c in rows], next_cursor=next_cursor
    )


@router.get(
    "/policy-changes/{change_id}",
    response_model=PolicyChangeRead,
    responses=problem_responses(401, 404),
    summary="A referred policy change and its outcome",
)
async def read_change(
    change_id: uuid.UUID, session: Session, actor: CurrentActor
) -> PolicyChangeRead:
    return PolicyChangeRead.model_validate(
        handle_result(await service.changes.get_change(session, change_id, actor=actor))
    )


@router.post(
    "/policy-changes/{change_id}/underwriting-decision",
    response_model=PolicyChangeRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Approve (the change is applied) or decline a referred policy change",
)
async def decide_change(
    change_id: uuid.UUID, body: ChangeDecision, session: Session, actor: Decider
) -> PolicyChangeRead:
    return PolicyChangeRead.model_validate(
        handle_result(
            await service.changes.decide(
                session,
                change_id,
                approve=body.decision == "approve",
                note=body.note,
                actor=actor,
            )
        )
    )
