"""Claims routes: authority limits (data per role or user) and the approvals waiting on them.
Included by ``router_money``; these fixed paths come before any ``/claims/{claim_id}`` route."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from pd_prime_demo.api.dependencies import Session
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.claims.enums import ApprovalStatus, CostType
from pd_prime_demo.claims.schemas_money import (
    ApprovalPage,
    ApprovalRead,
    AuthorityList,
    AuthorityRead,
    AuthoritySet,
    Decision,
    DecisionRead,
    TransactionRead,
)
from pd_prime_demo.claims.service import approvals, authority
from pd_prime_demo.identity.dependencies import CurrentActor

router = APIRouter(tags=["claims"])

Limit = Annotated[int, Query(ge=1, le=200)]


@router.get(
    "/claims/authority-limits",
    response_model=AuthorityList,
    responses=problem_responses(401, 403),
    summary="Authority limits: what each role or user may reserve on a line and pay at once",
)
async def list_authority_limits(session: Session, actor: CurrentActor) -> AuthorityList:
    rows = handle_result(await authority.list_authority(session, actor=actor))
    return AuthorityList(items=[AuthorityRead.model_validate(row) for row in rows])


@router.put(
    "/claims/authority-limits",
    response_model=AuthorityRead,
    responses=problem_responses(401, 403, 422),
    summary="Set a role's or a user's authority limits for a cost type (claims:configure)",
    description="Not your own row nor your role's (403 `claim.own_authority`): another "
    "configurer sets those.",
)
async def set_authority_limit(
    body: AuthoritySet, session: Session, actor: CurrentActor
) -> AuthorityRead:
    row = handle_result(
        await authority.set_authority(
            session,
            role=body.role,
            user_id=body.user_id,
            cost_type=CostType(body.cost_type),
            reserve_limit=body.reserve_limit,
            payment_limit=body.payment_limit,
            actor=actor,
        )
    )
    return AuthorityRead.model_validate(row)


@router.get(
    "/claims/approvals",
    response_model=ApprovalPage,
    responses=problem_responses(401, 403, 404, 422),
    summary="The approval queue (oldest first), or one claim's approvals",
)
async def list_approvals(
    session: Session,
    actor: CurrentActor,
    approval_status: Annotated[
        Literal["pending", "approved", "rejected", "withdrawn"] | None, Query(alias="status")
    ] = "pending",
    claim_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Limit = 50,
) -> ApprovalPage:
    rows, next_cursor = handle_result(
        await approvals.list_approvals(
            session,
            claim_id=claim_id,
            status=ApprovalStatus(approval_status) if approval_status else None,
            cursor=cursor,
            limit=limit,
            actor=actor,
        )
    )
    return ApprovalPage(
        items=[ApprovalRead.model_validate(row) for row in rows], next_cursor=next_cursor
    )


@router.get(
    "/claims/approvals/{approval_id}",
    response_model=ApprovalRead,
    responses=problem_responses(401, 403, 404),
    summary="One approval",
)
async def get_approval(
    approval_id: uuid.UUID, session: Session, actor: CurrentActor
) -> ApprovalRead:
    return ApprovalRead.model_validate(
        handle_result(await approvals.get_approval(session, approval_id, actor=actor))
    )


@router.post(
    "/claims/approvals/{approval_id}/{decision}",
    response_model=DecisionRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Approve (and post) or reject: not your own request, and your authority must "
    "cover it; approving checks the claim's limits again now",
    description="Nobody decides their own request, whichever credential either used (their "
    "login, an API key or an API client of theirs): 403 `claim.self_approval`. Approving a "
    "reserve whose line moved since it was asked (`reserve_before`) is refused: 409 "
    "`claim.reserve_moved`, and the approval stays pending to be rejected.",
)
async def decide_approval(
    approval_id: uuid.UUID,
    decision: Literal["approve", "reject"],
    session: Session,
    actor: CurrentActor,
    body: Decision | None = None,
) -> DecisionRead:
    decided = handle_result(
        await approvals.decide(
            session,
            approval_id,
            approve=decision == "approve",
            note=body.note if body else None,
            actor=actor,
        )
    )
    return DecisionRead(
        approval=ApprovalRead.model_validate(decided.approval),
        transactions=[TransactionRead.model_validate(row) for row in decided.transactions],
    )
