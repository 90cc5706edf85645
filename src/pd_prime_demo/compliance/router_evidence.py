"""Evidence an administrator records for the controls: security reviews (CC7.3).

Recording needs ``compliance:manage``; reading, ``compliance:read`` (an auditor's role).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.idempotency import IdempotencyKey, IdempotentCreate
from pd_prime_demo.api.response_patterns import fail, handle_result, problem_responses
from pd_prime_demo.compliance import security_reviews
from pd_prime_demo.compliance.evidence_schemas import (
    SecurityReviewCreate,
    SecurityReviewPage,
    SecurityReviewRead,
)
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import not_found
from pd_prime_demo.identity.dependencies import require

router = APIRouter(prefix=f"{API_V1}/compliance", tags=["compliance"])

Manager = Annotated[Actor, Depends(require(Permission.COMPLIANCE_MANAGE))]
Reader = Annotated[Actor, Depends(require(Permission.COMPLIANCE_READ))]
_REVIEWS = f"{API_V1}/compliance/security-reviews"


@router.post(
    "/security-reviews",
    response_model=SecurityReviewRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Record a review of a period's security events (CC7.3)",
)
async def record_security_review(
    body: SecurityReviewCreate,
    request: Request,
    response: Response,
    session: Session,
    runtime: RuntimeDep,
    actor: Manager,
    idempotency_key: IdempotencyKey = None,
) -> SecurityReviewRead:
    idem = IdempotentCreate.of(request, body, idempotency_key, actor, runtime.cipher)
    if (previous_id := await idem.previous(session)) is not None:
        review = await security_reviews.get_review(session, uuid.UUID(previous_id))
        if review is None:  # pragma: no cover - reviews are append-only
            fail(not_found("security_review"))
        response.headers["Idempotent-Replayed"] = "true"
    else:
        review = handle_result(
            await security_reviews.record_review(
                session,
                covers_from=body.covers_from,
                covers_to=body.covers_to,
                outcome=body.outcome,
                events_reviewed=body.events_reviewed,
                findings=body.findings,
                reference=body.reference,
                now=clock.now(),
                actor=actor,
            )
        )
        idem.remember(session, str(review.id))
    response.headers["Location"] = f"{_REVIEWS}/{review.id}"
    return SecurityReviewRead.model_validate(review)


@router.get(
    "/security-reviews",
    response_model=SecurityReviewPage,
    responses=problem_responses(401, 403, 422),
    summary="List security reviews, newest period first",
)
async def list_security_reviews(
    session: Session,
    _: Reader,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SecurityReviewPage:
    found, next_cursor = handle_result(
        await security_reviews.list_reviews(session, cursor=cursor, limit=limit)
    )
    return SecurityReviewPage(
        items=[SecurityReviewRead.model_validate(r) for r in found], next_cursor=next_cursor
    )


@router.get(
    "/security-reviews/{review_id}",
    response_model=SecurityReviewRead,
    responses=problem_responses(401, 403, 404, 422),
    summary="One security review, with its findings",
)
async def get_security_review(
    review_id: uuid.UUID, session: Session, _: Reader
) -> SecurityReviewRead:
    review = await security_reviews.get_review(session, review_id)
    if review is None:
        fail(not_found("security_review"))
    return SecurityReviewRead.model_validate(review)
