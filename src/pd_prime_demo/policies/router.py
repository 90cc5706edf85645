"""Policy and policy-document routes."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import Session
from pd_prime_demo.api.response_patterns import fail, handle_result, problem_responses
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.dates import BusinessDate
from pd_prime_demo.core.money import Money
from pd_prime_demo.core.result_types import DomainError, Result, not_found
from pd_prime_demo.documents import service as documents
from pd_prime_demo.identity.dependencies import CurrentActor, require
from pd_prime_demo.policies import service
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.policies.schemas import (
    BindRequest,
    CancellationCreate,
    DocumentList,
    DocumentRead,
    EndorsementCreate,
    PolicyList,
    PolicyRead,
    ReinstatementCreate,
    TransactionList,
    TransactionRead,
)

router = APIRouter(prefix=API_V1, tags=["policies"])

Writer = Annotated[Actor, Depends(require(Permission.POLICIES_WRITE))]


def _recorded(result: Result[PolicyTransaction, DomainError]) -> TransactionRead:
    """A new transaction's response: the problem if it failed, else the transaction (its
    declarations page was written with it)."""
    return TransactionRead.model_validate(handle_result(result))


async def _read(session: AsyncSession, policy: Policy, on: date) -> PolicyRead:
    return _present(policy, service.state_as_of(await service.transactions(session, policy.id), on))


def _present(policy: Policy, state: service.AsOf) -> PolicyRead:
    on = state.on
    return PolicyRead(
        id=policy.id,
        number=policy.number,
        quote_id=policy.quote_id,
        customer_id=policy.customer_id,
        product_code=policy.product_code,
        state=policy.state,
        inception_on=policy.inception_on,
        payment_plan=policy.payment_plan,
        as_of=on,
        status=state.status,
        in_force=state.snapshot if state.status in ("in_force", "cancelled") else None,
        terms=state.snapshot,
        transaction_seq=state.transaction.seq if state.transaction else None,
    )


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
    actor: Writer,
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
    on = max(policy.inception_on, clock.today())
    if bound.history is None:
        return await _read(session, policy, on)
    return _present(policy, service.state_as_of(bound.history, on))


@router.get(
    "/policies",
    response_model=PolicyList,
    responses=problem_responses(401, 422),
    summary="List the policies you may see",
)
async def list_policies(
    session: Session,
    actor: CurrentActor,
    customer_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> PolicyList:
    rows = await service.list_policies(session, actor=actor, customer_id=customer_id, limit=limit)
    states = await service.states_today(session, rows, clock.today())
    return PolicyList(items=[_present(p, states[p.id]) for p in rows])


@router.get(
    "/policies/{policy_id}",
    response_model=PolicyRead,
    responses=problem_responses(401, 404, 422),
    summary="A policy as of any date: what was in force that day",
)
async def read_policy(
    policy_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    as_of: Annotated[BusinessDate | None, Query(description="Default: today.")] = None,
) -> PolicyRead:
    policy, state = handle_result(
        await service.read_as_of(session, policy_id, as_of or clock.today(), actor=actor)
    )
    return _present(policy, state)


@router.get(
    "/policies/{policy_id}/transactions",
    response_model=TransactionList,
    responses=problem_responses(401, 404),
    summary="The policy's full transaction history (never updated in place)",
)
async def list_transactions(
    policy_id: uuid.UUID, session: Session, actor: CurrentActor
) -> TransactionList:
    rows = handle_result(await service.history_for(session, policy_id, actor=actor))
    return TransactionList(items=[TransactionRead.model_validate(t) for t in rows])


@router.post(
    "/policies/{policy_id}/endorsements",
    response_model=TransactionRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Endorse: change risk or coverages mid-term (re-rated, prorated by days)",
)
async def endorse_policy(
    policy_id: uuid.UUID,
    body: EndorsementCreate,
    session: Session,
    actor: Writer,
) -> TransactionRead:
    return _recorded(
        await service.endorse(
            session,
            policy_id,
            effective_on=body.effective_on,
            risk=body.risk.model_dump(mode="json") if body.risk else None,
            coverages={k: v.model_dump(exclude_none=True) for k, v in body.coverages.items()}
            if body.coverages is not None
            else None,
            actor=actor,
        )
    )


@router.post(
    "/policies/{policy_id}/cancellations",
    response_model=TransactionRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Cancel (flat, pro-rata or short-rate per the product and reason)",
)
async def cancel_policy(
    policy_id: uuid.UUID,
    body: CancellationCreate,
    session: Session,
    actor: Writer,
) -> TransactionRead:
    return _recorded(
        await service.cancel(
            session,
            policy_id,
            effective_on=body.effective_on,
            reason_code=body.reason_code,
            note=body.note,
            actor=actor,
        )
    )


@router.post(
    "/policies/{policy_id}/reinstatements",
    response_model=TransactionRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Reinstate a cancelled policy, with or without a lapse",
)
async def reinstate_policy(
    policy_id: uuid.UUID,
    body: ReinstatementCreate,
    session: Session,
    actor: Writer,
) -> TransactionRead:
    return _recorded(
        await service.reinstate(
            session, policy_id, effective_on=body.effective_on, note=body.note, actor=actor
        )
    )


class RenewalRead(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)
    id: uuid.UUID
    term_start: date
    term_end: date
    rate_version: str
    premium: Money
    fees: Money
    taxes: Money
    status: str


class NonRenewalCreate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    reason: str = Field(min_length=1, max_length=500)


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
    response_model=TransactionRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409),
    summary="Accept the open renewal offer: the new term starts at expiry",
)
async def accept_renewal(
    policy_id: uuid.UUID,
    session: Session,
    actor: Writer,
) -> TransactionRead:
    return _recorded(await service.accept(session, policy_id, actor=actor))


@router.post(
    "/policies/{policy_id}/non-renewals",
    response_model=TransactionRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Give notice of non-renewal, with its reason",
)
async def non_renew_policy(
    policy_id: uuid.UUID,
    body: NonRenewalCreate,
    session: Session,
    actor: Writer,
) -> TransactionRead:
    return _recorded(await service.non_renew(session, policy_id, reason=body.reason, actor=actor))


@router.get(
    "/policies/{policy_id}/documents",
    response_model=DocumentList,
    responses=problem_responses(401, 404),
    summary="Declarations pages and invoices issued for the policy",
)
async def list_documents(
    policy_id: uuid.UUID, session: Session, actor: CurrentActor
) -> DocumentList:
    handle_result(await service.get_policy(session, policy_id, actor=actor))
    rows = await documents.list_for_policy(session, policy_id)
    return DocumentList(items=[DocumentRead.model_validate(d) for d in rows])


@router.get(
    "/documents/{document_id}",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The PDF"},
        **problem_responses(401, 404),
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
    return Response(
        doc.content,
        media_type=doc.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{doc.filename}"',
            "ETag": f'"{doc.sha256}"',
            "Cache-Control": "private, no-store",
        },
    )
