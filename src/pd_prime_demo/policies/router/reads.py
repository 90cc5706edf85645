"""Binding a quote, and reading policies: one as of a date (as known at a moment), lists,
histories and documents."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import Session
from pd_prime_demo.api.response_patterns import fail, handle_result, problem_responses
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.dates import BusinessDate, Moment
from pd_prime_demo.core.result_types import conflict, not_found
from pd_prime_demo.documents import service as documents
from pd_prime_demo.identity.dependencies import CurrentActor, require
from pd_prime_demo.policies import service
from pd_prime_demo.policies.enums import StatusOn
from pd_prime_demo.policies.router.presenting import policy_etag, present, transaction
from pd_prime_demo.policies.schemas import (
    BindRequest,
    DocumentPage,
    DocumentPending,
    DocumentRead,
    PolicyPage,
    PolicyRead,
    TransactionPage,
)

router = APIRouter(prefix=API_V1, tags=["policies"])

Binder = Annotated[Actor, Depends(require(Permission.POLICIES_BIND))]
AsOf = Annotated[BusinessDate | None, Query(description="The effective date; default today.")]
KnownAt = Annotated[
    Moment | None,
    Query(
        description="As the system knew it at this moment (RFC 3339): later back-dated changes "
        "are left out, so a closed period reads as it first did. Default: now."
    ),
]
Cursor = Annotated[str | None, Query(max_length=200, description="From `next_cursor`.")]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.post(
    "/quotes/{quote_id}/bind",
    response_model=PolicyRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": PolicyRead, "description": "Already bound: the same policy"},
        **problem_responses(401, 403, 404, 409, 422),
    },
    summary="Bind a quoted or approved quote into a policy (idempotent)",
)
async def bind_quote(
    quote_id: uuid.UUID,
    body: BindRequest,
    response: Response,
    session: Session,
    actor: Binder,
) -> PolicyRead:
    bound = handle_result(
        await service.bind_quote(
            session, quote_id, option=body.option, payment_plan=body.payment_plan, actor=actor
        )
    )
    policy = bound.policy
    if not bound.created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"{API_V1}/policies/{policy.id}"
    response.headers["ETag"] = policy_etag(policy)
    on = max(policy.inception_on, clock.today())
    history = bound.history or await service.transactions(session, policy.id)
    return present(policy, service.state_as_of(history, on))


@router.get(
    "/policies",
    response_model=PolicyPage,
    responses=problem_responses(401, 403, 422),
    summary="The policies you may see, filtered, a page at a time",
)
async def list_policies(
    session: Session,
    actor: CurrentActor,
    number: Annotated[str | None, Query(max_length=30)] = None,
    customer_id: uuid.UUID | None = None,
    product_code: Annotated[str | None, Query(max_length=50)] = None,
    state: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    inception_from: Annotated[BusinessDate | None, Query()] = None,
    inception_to: Annotated[BusinessDate | None, Query()] = None,
    policy_status: Annotated[
        StatusOn | None, Query(alias="status", description="What the policy is on `as_of`.")
    ] = None,
    as_of: AsOf = None,
    known_at: KnownAt = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> PolicyPage:
    on = as_of or clock.today()
    rows, next_cursor = handle_result(
        await service.list_policies(
            session,
            actor=actor,
            where=service.PolicyFilter(
                number=number,
                customer_id=customer_id,
                product_code=product_code,
                state=state,
                inception_from=inception_from,
                inception_to=inception_to,
                status=policy_status,
            ),
            on=on,
            known_at=known_at,
            cursor=cursor,
            limit=limit,
        )
    )
    return PolicyPage(items=[present(p, s) for p, s in rows], next_cursor=next_cursor)


@router.get(
    "/policies/by-number/{number}",
    response_model=PolicyRead,
    responses=problem_responses(401, 404, 422),
    summary="A policy by its number, as of a date (as known at any moment)",
)
async def read_policy_by_number(
    number: str,
    response: Response,
    session: Session,
    actor: CurrentActor,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> PolicyRead:
    policy, state = handle_result(
        await service.read_by_number(
            session, number, as_of or clock.today(), actor=actor, known_at=known_at
        )
    )
    response.headers["ETag"] = policy_etag(policy)
    return present(policy, state)


@router.get(
    "/policies/{policy_id}",
    response_model=PolicyRead,
    responses=problem_responses(401, 404, 422),
    summary="A policy as of any date (as known at any moment): what was in force that day",
)
async def read_policy(
    policy_id: uuid.UUID,
    response: Response,
    session: Session,
    actor: CurrentActor,
    as_of: AsOf = None,
    known_at: KnownAt = None,
) -> PolicyRead:
    policy, state = handle_result(
        await service.read_as_of(
            session, policy_id, as_of or clock.today(), actor=actor, known_at=known_at
        )
    )
    response.headers["ETag"] = policy_etag(policy)
    return present(policy, state)


@router.get(
    "/policies/{policy_id}/transactions",
    response_model=TransactionPage,
    responses=problem_responses(401, 404, 422),
    summary="The policy's transactions in the order recorded (never updated in place)",
)
async def list_transactions(
    policy_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    as_of: Annotated[
        BusinessDate | None, Query(description="Only those effective by this date.")
    ] = None,
    known_at: KnownAt = None,
    cursor: Cursor = None,
    limit: Limit = 200,
) -> TransactionPage:
    rows, next_cursor = handle_result(
        await service.history_for(
            session,
            policy_id,
            actor=actor,
            as_of=as_of,
            known_at=known_at,
            cursor=cursor,
            limit=limit,
        )
    )
    return TransactionPage(items=[transaction(t) for t in rows], next_cursor=next_cursor)


@router.get(
    "/policies/{policy_id}/documents",
    response_model=DocumentPage,
    responses=problem_responses(401, 404, 422),
    summary="Declarations pages and invoices issued for the policy",
)
async def list_documents(
    policy_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    cursor: Cursor = None,
    limit: Limit = 200,
) -> DocumentPage:
    handle_result(await service.get_policy(session, policy_id, actor=actor))
    rows, next_cursor = handle_result(
        await documents.list_for_policy(session, policy_id, cursor=cursor, limit=limit)
    )
    return DocumentPage(
        items=[DocumentRead.model_validate(d) for d in rows], next_cursor=next_cursor
    )


@router.get(
    "/documents/{document_id}",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The PDF"},
        202: {
            "model": DocumentPending,
            "description": "Still being drawn: ask again after Retry-After seconds",
        },
        **problem_responses(401, 404, 409),
    },
    summary="Download a document (ETag is its SHA-256)",
)
async def download_document(
    document_id: uuid.UUID, session: Session, actor: CurrentActor
) -> Response:
    doc = await documents.get(session, document_id)
    if doc is None:
        fail(not_found("document"))
    handle_result(await service.get_policy(session, doc.policy_id, actor=actor))
    if doc.status == documents.DocumentStatus.PENDING:
        pending = DocumentPending(
            id=doc.id, status=doc.status, detail="the document is being drawn"
        )
        return Response(
            pending.model_dump_json(),
            status_code=202,
            media_type="application/json",
            headers={"Retry-After": "2", "Cache-Control": "no-store"},
        )
    if doc.status == documents.DocumentStatus.FAILED or doc.content is None:
        fail(
            conflict(
                "document.failed",
                "the document could not be drawn; staff have been shown the failure and "
                "can retry it",
            )
        )
    return Response(
        doc.content,
        media_type=doc.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{doc.filename}"',
            "ETag": f'"{doc.sha256}"',
            "Cache-Control": "private, no-store",
        },
    )
