"""Claims routes. A claim's money: exposures, reserves, payments, recoveries, authority limits and
approvals.

A payment with no reserve, or above the reserve, first raises the reserve to cover it (a
reserve transaction with the reason "raised to cover payment"); it is never refused for that.
A reserve or payment above the caller's authority is not posted: it answers 202 with a pending
approval, which someone else whose authority covers it approves (posting it then) or rejects.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.idempotency import IdempotencyKey, IdempotentCreate
from pd_prime_demo.api.response_patterns import fail, handle_result, problem_responses
from pd_prime_demo.claims.enums import CostType, MoneyKind
from pd_prime_demo.claims.router_money_approvals import router as approvals_router
from pd_prime_demo.claims.schemas_money import (
    ApprovalRead,
    ExposureCreate,
    ExposureList,
    ExposureRead,
    MovementRead,
    PaymentCreate,
    RecoveryCreate,
    ReserveLineRead,
    ReserveSet,
    TransactionPage,
    TransactionRead,
    ValuationSet,
)
from pd_prime_demo.claims.service import approvals, exposures, payments
from pd_prime_demo.core.result_types import invalid
from pd_prime_demo.identity.dependencies import CurrentActor

router = APIRouter(prefix=API_V1, tags=["claims"])
# Its fixed paths (/claims/approvals, /claims/authority-limits) first.
router.include_router(approvals_router)

Limit = Annotated[int, Query(ge=1, le=200)]
PAYMENT_KEY_REQUIRED = invalid(
    "idempotency.key_required", "a payment needs an Idempotency-Key: a retry never pays twice"
)
PENDING = {"description": "Above your authority: a pending approval, nothing posted yet"}
PAYMENT_RULES = (
    "Indemnity paid on an exposure never exceeds its limit net of the deductible (on the "
    "valuation basis: its valuation less the deductible; 409 `claim.valuation_required` until "
    "it is valued), nor, with the claim's other exposures on the coverage, the per-occurrence "
    "limit (409 `claim.limit_exceeded` / `claim.occurrence_limit_exceeded`, with `available`). "
    "Expense is outside the limits.\n\n"
    "**A payment with no reserve, or above the reserve, first raises the reserve** to the "
    'payment\'s amount (a reserve transaction with the reason "raised to cover payment"), '
    "then takes it down by the amount paid: it is never refused for the reserve. The raise "
    "needs reserve authority as well.\n\n"
    "Above the caller's authority (their own row of `/claims/authority-limits`, else their "
    "role's; none: no authority) nothing is posted: 202 with a pending approval. The same key "
    "with the same body replays the first answer (200, or 202 for an approval); with another "
    "body 422 `idempotency.key_reused`."
)


def _exposure(view: exposures.ExposureView) -> ExposureRead:
    e = view.exposure
    columns = {name: getattr(e, name) for name in ExposureRead.model_fields if hasattr(e, name)}
    return ExposureRead(
        **columns,
        payable_cap=view.payable_cap,
        indemnity_paid=view.indemnity_paid,
        indemnity_available=view.indemnity_available,
        reserve_lines=[ReserveLineRead.model_validate(line) for line in view.lines],
    )


def _movement(moved: payments.Movement, response: Response) -> MovementRead:
    rows = [TransactionRead.model_validate(row) for row in moved.transactions]
    if moved.approval is not None:
        response.status_code = status.HTTP_202_ACCEPTED
    return MovementRead(
        status="pending_approval" if moved.approval is not None else "posted",
        transaction=rows[-1] if rows else None,
        transactions=rows,
        approval=ApprovalRead.model_validate(moved.approval) if moved.approval else None,
        reserve_line=ReserveLineRead.model_validate(moved.line),
    )


@router.post(
    "/claims/{claim_id}/exposures",
    response_model=ExposureRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Open an exposure: one claimant's loss under one coverage, with the coverage's "
    "limit and deductible as the policy had them on the loss date",
)
async def add_exposure(
    claim_id: uuid.UUID, body: ExposureCreate, session: Session, actor: CurrentActor
) -> ExposureRead:
    view = handle_result(
        await exposures.add_exposure(
            session,
            claim_id,
            coverage_code=body.coverage_code,
            policy_unit=body.policy_unit,
            claimant_party_id=body.claimant_party_id,
            actor=actor,
        )
    )
    return _exposure(view)


@router.get(
    "/claims/{claim_id}/exposures",
    response_model=ExposureList,
    responses=problem_responses(401, 403, 404),
    summary="The claim's exposures with their reserve lines and what may still be paid",
)
async def list_exposures(
    claim_id: uuid.UUID, session: Session, actor: CurrentActor
) -> ExposureList:
    views = handle_result(await exposures.list_exposures(session, claim_id, actor=actor))
    return ExposureList(items=[_exposure(view) for view in views])


@router.get(
    "/claims/{claim_id}/exposures/{exposure_id}",
    response_model=ExposureRead,
    responses=problem_responses(401, 403, 404),
    summary="One exposure",
)
async def get_exposure(
    claim_id: uuid.UUID, exposure_id: uuid.UUID, session: Session, actor: CurrentActor
) -> ExposureRead:
    return _exposure(
        handle_result(await exposures.get_exposure(session, claim_id, exposure_id, actor=actor))
    )


@router.post(
    "/claims/{claim_id}/exposures/{exposure_id}/valuation",
    response_model=ExposureRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Value the damaged property (actual cash value): needed before indemnity is paid "
    "on an exposure whose coverage has no policy limit",
)
async def set_valuation(
    claim_id: uuid.UUID,
    exposure_id: uuid.UUID,
    body: ValuationSet,
    session: Session,
    actor: CurrentActor,
) -> ExposureRead:
    view = handle_result(
        await exposures.set_valuation(
            session,
            claim_id,
            exposure_id,
            valuation=body.valuation,
            reason=body.reason,
            actor=actor,
        )
    )
    return _exposure(view)


@router.post(
    "/claims/{claim_id}/exposures/{exposure_id}/reserves",
    response_model=MovementRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        202: {"model": MovementRead, **PENDING},
        **problem_responses(401, 403, 404, 409, 422),
    },
    summary="Set a reserve line's outstanding reserve (the new amount, with a reason)",
    description="Raising a reserve above your authority's reserve limit answers 202 with a "
    "pending approval; taking one down needs no authority. Every change is a reserve "
    "transaction (the history) and a balanced ledger entry.",
)
async def set_reserve(
    claim_id: uuid.UUID,
    exposure_id: uuid.UUID,
    body: ReserveSet,
    response: Response,
    session: Session,
    actor: CurrentActor,
) -> MovementRead:
    moved = handle_result(
        await payments.set_reserve(
            session,
            claim_id,
            exposure_id,
            cost_type=CostType(body.cost_type),
            category=body.category,
            amount=body.amount,
            reason=body.reason,
            actor=actor,
        )
    )
    return _movement(moved, response)


HISTORY: dict[str, Any] = {
    "response_model": TransactionPage,
    "responses": problem_responses(401, 403, 404, 422),
}


# One use case on two paths: ``exposure_id`` is the path's on the first, an optional filter
# (a query parameter) on the second.
@router.get(
    "/claims/{claim_id}/exposures/{exposure_id}/reserves/history",
    summary="The exposure's reserve history: every transaction, with the reserve after it",
    **HISTORY,
)
@router.get(
    "/claims/{claim_id}/transactions",
    summary="Every posted money movement on the claim (or one exposure's), oldest first",
    **HISTORY,
)
async def transaction_history(
    claim_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    exposure_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: Limit = 100,
) -> TransactionPage:
    rows, next_cursor = handle_result(
        await exposures.transaction_history(
            session, claim_id, exposure_id, cursor=cursor, limit=limit, actor=actor
        )
    )
    return TransactionPage(
        items=[TransactionRead.model_validate(row) for row in rows], next_cursor=next_cursor
    )


@router.post(
    "/claims/{claim_id}/exposures/{exposure_id}/payments",
    response_model=MovementRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": MovementRead, "description": "Replayed: already made with this key"},
        202: {"model": MovementRead, **PENDING},
        **problem_responses(401, 403, 404, 409, 422),
    },
    summary="Pay on an exposure (Idempotency-Key required)",
    description=PAYMENT_RULES,
)
async def make_payment(
    claim_id: uuid.UUID,
    exposure_id: uuid.UUID,
    body: PaymentCreate,
    request: Request,
    response: Response,
    session: Session,
    runtime: RuntimeDep,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> MovementRead:
    if idempotency_key is None:
        fail(PAYMENT_KEY_REQUIRED)
    idem = IdempotentCreate.of(request, body, idempotency_key, actor, runtime.cipher)
    if (previous := await idem.previous(session)) is not None:
        response.headers["Idempotent-Replayed"] = "true"
        kind, _, ref = previous.partition(":")
        if kind == "approval":
            found = handle_result(
                await approvals.get_approval(session, uuid.UUID(ref), actor=actor)
            )
            line = await payments.line_of_approval(session, found)
            response.status_code = status.HTTP_202_ACCEPTED
            return _movement(payments.Movement(line, approval=found), response)
        response.status_code = status.HTTP_200_OK
        moved = handle_result(await payments.replayed(session, claim_id, int(ref), actor=actor))
        return _movement(moved, response)
    moved = handle_result(
        await payments.make_payment(
            session,
            claim_id,
            exposure_id,
            cost_type=CostType(body.cost_type),
            category=body.category,
            amount=body.amount,
            payee=body.payee,
            reason=body.reason,
            idempotency_key=idempotency_key,
            actor=actor,
        )
    )
    if moved.approval is not None:
        idem.remember(session, f"approval:{moved.approval.id}", status.HTTP_202_ACCEPTED)
    else:
        idem.remember(session, f"payment:{moved.transactions[-1].id}")
    return _movement(moved, response)


@router.post(
    "/claims/{claim_id}/exposures/{exposure_id}/recoveries",
    response_model=MovementRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Record salvage or subrogation received (never more than the line paid)",
)
async def record_recovery(
    claim_id: uuid.UUID,
    exposure_id: uuid.UUID,
    body: RecoveryCreate,
    request: Request,
    response: Response,
    session: Session,
    runtime: RuntimeDep,
    actor: CurrentActor,
    idempotency_key: IdempotencyKey = None,
) -> MovementRead:
    idem = IdempotentCreate.of(request, body, idempotency_key, actor, runtime.cipher)
    if (previous := await idem.previous(session)) is not None:
        response.headers["Idempotent-Replayed"] = "true"
        response.status_code = status.HTTP_200_OK
        moved = handle_result(
            await payments.replayed(session, claim_id, int(previous.partition(":")[2]), actor=actor)
        )
        return _movement(moved, response)
    moved = handle_result(
        await payments.record_recovery(
            session,
            claim_id,
            exposure_id,
            kind=MoneyKind(body.kind),
            cost_type=CostType(body.cost_type),
            category=body.category,
            amount=body.amount,
            payer=body.payer,
            reason=body.reason,
            actor=actor,
        )
    )
    idem.remember(session, f"recovery:{moved.transactions[-1].id}")
    return _movement(moved, response)
