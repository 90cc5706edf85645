"""Quote and underwriting routes."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.http_conditions import etag_for, expected_version
from pd_prime_demo.api.idempotency import IdempotencyKey, IdempotentCreate
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.identity.dependencies import CurrentActor, require
from pd_prime_demo.quotes import service
from pd_prime_demo.quotes.enums import QuoteStatus
from pd_prime_demo.quotes.models import Quote
from pd_prime_demo.quotes.schemas import (
    ChargeRead,
    OptionRating,
    OptionWorksheet,
    QuoteCreate,
    QuotePage,
    QuoteRead,
    QuoteUpdate,
    RuleHitRead,
    UnderwritingDecision,
    WorksheetLineRead,
    WorksheetRead,
)

router = APIRouter(prefix=API_V1, tags=["quotes"])


async def _read(session: AsyncSession, quote: Quote) -> QuoteRead:
    rating = None
    if quote.rating is not None:
        rating = [
            OptionRating(
                name=o["name"],
                coverage_premiums={k: Decimal(v) for k, v in o["coverage_premiums"].items()},
                premium=Decimal(o["premium"]),
                fees=[ChargeRead(name=f["name"], amount=Decimal(f["amount"])) for f in o["fees"]],
                taxes=[ChargeRead(name=t["name"], amount=Decimal(t["amount"])) for t in o["taxes"]],
                total=Decimal(o["total"]),
            )
            for o in quote.rating
        ]
    return QuoteRead(
        id=quote.id,
        number=f"Q-{quote.number}",
        customer_id=quote.customer_id,
        product_code=quote.product_code,
        state=quote.state,
        effective_on=quote.effective_on,
        expires_on=quote.expires_on,
        status=quote.status,
        product_version_id=quote.product_version_id,
        rate_version=quote.rate_version,
        risk=quote.risk,
        options=quote.options,
        rating=rating,
        underwriting=[RuleHitRead(**h) for h in quote.underwriting.get("hits", [])],
        required_authority=quote.required_authority,
        surcharge_percent=(quote.surcharge - 1) * 100 if quote.surcharge is not None else None,
        decision_note=quote.decision_note,
        version=quote.version,
        created_at=quote.created_at,
        updated_at=quote.updated_at,
    )


@router.post(
    "/quotes",
    response_model=QuoteRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Quote: rate every package and apply the product's underwriting rules",
)
async def create_quote(
    body: QuoteCreate,
    request: Request,
    response: Response,
    session: Session,
    runtime: RuntimeDep,
    actor: Annotated[Actor, Depends(require(Permission.QUOTES_WRITE))],
    idempotency_key: IdempotencyKey = None,
) -> QuoteRead:
    idem = IdempotentCreate.of(request, body, idempotency_key, actor, runtime.cipher)
    if (previous_id := await idem.previous(session)) is not None:
        quote = handle_result(await service.get_quote(session, uuid.UUID(previous_id), actor=actor))
        response.headers["Idempotent-Replayed"] = "true"
    else:
        quote = handle_result(await service.create_quote(session, body, actor=actor))
        idem.remember(session, str(quote.id))
    response.headers["Location"] = f"{API_V1}/quotes/{quote.id}"
    response.headers["ETag"] = etag_for(quote.version)
    return await _read(session, quote)


@router.get(
    "/quotes",
    response_model=QuotePage,
    responses=problem_responses(401, 403, 422),
    summary="List the quotes you may see",
)
async def list_quotes(
    session: Session,
    actor: CurrentActor,
    quote_status: Annotated[QuoteStatus | None, Query(alias="status")] = None,
    customer_id: uuid.UUID | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> QuotePage:
    rows, next_cursor = handle_result(
        await service.list_quotes(
            session,
            actor=actor,
            status=quote_status,
            customer_id=customer_id,
            cursor=cursor,
            limit=limit,
        )
    )
    return QuotePage(items=[await _read(session, q) for q in rows], next_cursor=next_cursor)


@router.get(
    "/quotes/{quote_id}",
    response_model=QuoteRead,
    responses=problem_responses(401, 403, 404),
    summary="Read a quote",
)
async def read_quote(
    quote_id: uuid.UUID, response: Response, session: Session, actor: CurrentActor
) -> QuoteRead:
    quote = handle_result(await service.get_quote(session, quote_id, actor=actor))
    response.headers["ETag"] = etag_for(quote.version)
    return await _read(session, quote)


@router.patch(
    "/quotes/{quote_id}",
    response_model=QuoteRead,
    responses=problem_responses(401, 403, 404, 409, 412, 422, 428),
    summary="Change an open quote and re-rate it (send If-Match)",
)
async def update_quote(
    quote_id: uuid.UUID,
    body: QuoteUpdate,
    response: Response,
    session: Session,
    actor: CurrentActor,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=200)] = None,
) -> QuoteRead:
    version = handle_result(expected_version(if_match))
    quote = handle_result(
        await service.update_quote(session, quote_id, body, expected_version=version, actor=actor)
    )
    response.headers["ETag"] = etag_for(quote.version)
    return await _read(session, quote)


@router.get(
    "/quotes/{quote_id}/worksheet",
    response_model=WorksheetRead,
    responses=problem_responses(401, 403, 404, 409),
    summary="The rating worksheet: every step, table, key, factor and running amount",
)
async def read_quote_worksheet(
    quote_id: uuid.UUID, session: Session, actor: CurrentActor
) -> WorksheetRead:
    quote = handle_result(await service.get_quote(session, quote_id, actor=actor))
    version, results = handle_result(await service.worksheet(session, quote))
    return WorksheetRead(
        quote_id=quote.id,
        product_version_id=version.id,
        rate_version=version.version,
        content_hash=version.content_hash,
        options=[
            OptionWorksheet(
                name=name,
                lines=[
                    WorksheetLineRead.model_validate(line, from_attributes=True)
                    for line in r.worksheet
                ],
                premium=r.premium,
                total=r.total,
            )
            for name, r in results
        ],
    )


@router.get(
    "/underwriting/referrals",
    response_model=QuotePage,
    responses=problem_responses(401, 403),
    summary="The referral queue: referred quotes within your authority, oldest first",
)
async def list_referrals(
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.UNDERWRITING_DECIDE))],
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> QuotePage:
    rows, next_cursor = handle_result(
        await service.referral_queue(session, actor=actor, cursor=cursor, limit=limit)
    )
    return QuotePage(items=[await _read(session, q) for q in rows], next_cursor=next_cursor)


@router.post(
    "/quotes/{quote_id}/underwriting-decision",
    response_model=QuoteRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Approve (optionally with a surcharge or changed terms) or decline a referral",
)
async def decide_referral(
    quote_id: uuid.UUID,
    body: UnderwritingDecision,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.UNDERWRITING_DECIDE))],
) -> QuoteRead:
    quote = handle_result(await service.decide_referral(session, quote_id, body, actor=actor))
    return await _read(session, quote)
