"""Privacy routes: data subject requests (this module), consent (``router_consent``) and the
data map (``router_datamap``). Thin glue over :mod:`pd_prime_demo.privacy.service`."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.rate_limit import limit_account, login_type_limit
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.identity.dependencies import FreshPersonSession, PersonSession, require
from pd_prime_demo.privacy.enums import RequestStatus
from pd_prime_demo.privacy.router_consent import router as consent_router
from pd_prime_demo.privacy.router_datamap import router as datamap_router
from pd_prime_demo.privacy.schemas import (
    IntakeAccepted,
    IntakeCreate,
    ReasonBody,
    RequestCreate,
    RequestEventRead,
    RequestPage,
    RequestRead,
    VerificationSubmit,
)
from pd_prime_demo.privacy.service import fulfilment, requests, verification

router = APIRouter(prefix=f"{API_V1}/privacy", tags=["privacy"])
router.include_router(consent_router)
router.include_router(datamap_router)

Staff = Annotated[Actor, Depends(require(Permission.PRIVACY_MANAGE))]
INTAKE_ANSWER = (
    "If this address is on file, a code to confirm the request is on its way to it. "
    "Submit the code with the reference in the message to POST /api/v1/privacy/requests/"
    "verification."
)


def _read(request: object) -> RequestRead:
    return RequestRead.model_validate(request)


@router.post(
    "/requests",
    response_model=RequestRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    summary="Make a data subject request (for yourself, or as staff for a customer)",
)
async def submit_request(
    body: RequestCreate,
    response: Response,
    session: Session,
    runtime: RuntimeDep,
    person: PersonSession,
) -> RequestRead:
    actor = person.actor
    made = handle_result(
        await requests.submit(
            session,
            body.kind,
            body.regime,
            actor=actor,
            cipher=runtime.cipher,
            customer_id=body.customer_id,
            corrections=body.corrections,
        )
    )
    if made.status == RequestStatus.RECEIVED.value:
        # Taken by staff: the person confirms through a code to their address on file.
        await verification.send_code(session, runtime, made, actor=actor)
    response.headers["Location"] = f"{API_V1}/privacy/requests/{made.id}"
    return _read(made)


@router.post(
    "/requests/intake",
    response_model=IntakeAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(422, 429),
    summary="The public request form: the same answer whether or not the address is known",
    dependencies=[Depends(login_type_limit)],
)
async def intake_request(
    body: IntakeCreate, request: Request, session: Session, runtime: RuntimeDep
) -> IntakeAccepted:
    await limit_account(request, str(body.email))
    handle_result(
        await verification.intake(session, runtime, str(body.email), body.kind, body.regime)
    )
    return IntakeAccepted(detail=INTAKE_ANSWER)


@router.post(
    "/requests/verification",
    response_model=RequestRead,
    responses=problem_responses(422, 429),
    summary="Confirm a request with the code sent to the address on file",
    dependencies=[Depends(login_type_limit)],
)
async def verify_request(body: VerificationSubmit, runtime: RuntimeDep) -> RequestRead:
    # Its own transaction, committed whatever the answer: a wrong code's attempt must stay
    # counted, or the limit on attempts would never bite.
    async with runtime.db.unit_of_work() as session:
        result = await verification.submit_code(session, runtime, body.request_id, body.code)
        read = _read(result.value) if isinstance(result, Ok) else None
    # After the commit: the problem of a refused code (handle_result raises on an Err).
    return read or _read(handle_result(result))


@router.get(
    "/requests",
    response_model=RequestPage,
    responses=problem_responses(401, 403, 422),
    summary="List requests: staff see all, a person their own",
)
async def list_requests(
    session: Session,
    person: PersonSession,
    customer_id: uuid.UUID | None = None,
    status_: Annotated[RequestStatus | None, Query(alias="status")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RequestPage:
    rows, next_cursor = handle_result(
        await requests.list_requests(
            session,
            actor=person.actor,
            customer_id=customer_id,
            status=status_,
            cursor=cursor,
            limit=limit,
        )
    )
    return RequestPage(items=[_read(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/requests/{request_id}",
    response_model=RequestRead,
    responses=problem_responses(401, 403, 404),
    summary="Read a request (yours, or any as staff)",
)
async def read_request(
    request_id: uuid.UUID, session: Session, person: PersonSession
) -> RequestRead:
    return _read(handle_result(await requests.get(session, request_id, actor=person.actor)))


@router.get(
    "/requests/{request_id}/history",
    response_model=list[RequestEventRead],
    responses=problem_responses(401, 403, 404),
    summary="A request's status changes, oldest first",
)
async def request_history(
    request_id: uuid.UUID, session: Session, person: PersonSession
) -> list[RequestEventRead]:
    events = handle_result(await requests.history(session, request_id, actor=person.actor))
    return [RequestEventRead.model_validate(e) for e in events]


@router.get(
    "/requests/{request_id}/export",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {}, "text/csv": {}}},
        **problem_responses(401, 403, 404),
    },
    summary="Download an access or portability answer (JSON or CSV)",
)
async def download_export(
    request_id: uuid.UUID,
    session: Session,
    runtime: RuntimeDep,
    # Everything held about a person, decrypted: only for a login made within minutes, so a
    # stolen or forgotten long-lived session cannot download it (as for adding a factor).
    person: FreshPersonSession,
    format_: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response:
    media_type, content = handle_result(
        await fulfilment.download(
            session, request_id, format_, actor=person.actor, cipher=runtime.cipher
        )
    )
    return Response(
        content,
        media_type=media_type,
        headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": f'attachment; filename="personal-data-{request_id}.{format_}"',
        },
    )


@router.post(
    "/requests/{request_id}/fulfilment",
    response_model=RequestRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Carry out a verified request and complete it",
)
async def fulfil_request(
    request_id: uuid.UUID, session: Session, runtime: RuntimeDep, actor: Staff
) -> RequestRead:
    return _read(
        handle_result(
            await fulfilment.fulfil(session, request_id, actor=actor, cipher=runtime.cipher)
        )
    )


@router.post(
    "/requests/{request_id}/rejection",
    response_model=RequestRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Reject a request with the reason the person is given",
)
async def reject_request(
    request_id: uuid.UUID, body: ReasonBody, session: Session, actor: Staff
) -> RequestRead:
    return _read(
        handle_result(await requests.reject(session, request_id, body.reason, actor=actor))
    )


@router.post(
    "/requests/{request_id}/extension",
    response_model=RequestRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Extend the deadline once, with the reason (GDPR +2 months, CCPA +45 days)",
)
async def extend_request(
    request_id: uuid.UUID, body: ReasonBody, session: Session, actor: Staff
) -> RequestRead:
    return _read(
        handle_result(await requests.extend(session, request_id, body.reason, actor=actor))
    )


@router.post(
    "/requests/{request_id}/verification-code",
    response_model=RequestRead,
    responses=problem_responses(401, 403, 404, 409),
    summary="Send the person a new verification code",
)
async def resend_code(
    request_id: uuid.UUID, session: Session, runtime: RuntimeDep, actor: Staff
) -> RequestRead:
    return _read(
        handle_result(await verification.resend(session, runtime, request_id, actor=actor))
    )


@router.post(
    "/requests/{request_id}/restriction-lift",
    response_model=RequestRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Lift a completed restriction of processing (Art. 18(3))",
)
async def lift_restriction(request_id: uuid.UUID, session: Session, actor: Staff) -> RequestRead:
    return _read(handle_result(await requests.lift_restriction(session, request_id, actor=actor)))
