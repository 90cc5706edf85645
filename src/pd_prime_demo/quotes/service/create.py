"""Creating and changing quotes: rated and underwritten when submitted, drafts otherwise."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.after_commit import after_commit
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    forbidden,
    invalid,
    stale_version,
)
from pd_prime_demo.core.telemetry import QUOTES_CREATED
from pd_prime_demo.core.tracing import business_span
from pd_prime_demo.customers import service as customers
from pd_prime_demo.products import service as products
from pd_prime_demo.quotes.enums import EDITABLE_STATUSES, QuoteStatus
from pd_prime_demo.quotes.models import Quote
from pd_prime_demo.quotes.schemas import QuoteCreate, QuoteOption, QuoteUpdate
from pd_prime_demo.quotes.service.common import (
    Assessment,
    announce,
    assess,
    move,
    outcome,
    rate_and_underwrite,
)
from pd_prime_demo.quotes.service.read import get_quote


def options_json(options: list[QuoteOption]) -> list[dict[str, Any]]:
    return [o.model_dump(mode="json", exclude_none=True) for o in options]


def _date_problem(version: products.CompiledVersion, on: date, actor: Actor) -> DomainError | None:
    """A term may start as far ahead, and as far back, as the product allows (further back
    only for an underwriter)."""
    issues = products.effective_date_issues(version, on, actor=actor)
    if issues:
        return invalid("quote.invalid_effective_date", "effective_on is not acceptable", *issues)
    return None


@beartype
async def create_quote(
    session: AsyncSession, data: QuoteCreate, *, actor: Actor
) -> Result[Quote, DomainError]:
    with business_span(
        "quote.create",
        product=data.product_code,
        state=data.state,
        packages=len(data.options),
        submit=data.submit,
    ) as span:
        created = await _create(session, data, actor)
        outcome(span, created)
        return created


async def _create(
    session: AsyncSession, data: QuoteCreate, actor: Actor
) -> Result[Quote, DomainError]:
    if not actor.has(Permission.QUOTES_WRITE):
        return Err(forbidden("auth.permission_missing", "this requires quotes:write"))
    if not await customers.may_see(session, data.customer_id, actor=actor):
        return Err(
            invalid(
                "quote.unknown_customer",
                "no customer you may quote has this id",
                FieldIssue("#/customer_id", "unknown customer"),
            )
        )
    match await products.version_in_force(
        session, data.product_code, data.state, data.effective_on
    ):
        case Err() as err:
            return err
        case Ok(version):
            pass
    if (problem := _date_problem(version, data.effective_on, actor)) is not None:
        return Err(problem)
    now = clock.now()
    validity = version.definition.quote_validity_days
    quote = Quote(
        id=uuid.uuid4(),
        customer_id=data.customer_id,
        created_by=actor.id,
        product_code=data.product_code,
        state=data.state,
        effective_on=data.effective_on,
        expires_on=now.date() + timedelta(days=validity),
        status=QuoteStatus.DRAFT,
        product_version_id=version.id,
        rate_version=version.version,
        risk=data.risk.model_dump(mode="json"),
        options=options_json(data.options),
        underwriting={"hits": []},
        version=1,
        created_at=now,
        updated_at=now,
    )
    assessment: Assessment | None = None
    if data.submit:
        # Rated before the first write, so a submitted quote is inserted once, already rated.
        match assess(quote, version):
            case Err() as err:
                return err
            case Ok(assessment):
                quote.status = assessment.status
    session.add(quote)
    await session.flush()  # the number comes from the database
    await audit.record(
        session,
        actor,
        "quote.draft",
        "quote",
        str(quote.id),
        {"product_code": quote.product_code, "state": quote.state},
    )
    emit(
        session,
        "quote.created",
        "quote",
        str(quote.id),
        {"number": quote.number, "customer_id": str(quote.customer_id)},
        customer_id=quote.customer_id,
    )
    if assessment is not None:
        await announce(session, quote, QuoteStatus.DRAFT, actor, **assessment.detail)
    after_commit(session, QUOTES_CREATED.labels(quote.product_code, quote.state).inc)
    return Ok(quote)


@beartype
async def update_quote(
    session: AsyncSession,
    quote_id: uuid.UUID,
    changes: QuoteUpdate,
    *,
    expected_version: int | None,
    actor: Actor,
) -> Result[Quote, DomainError]:
    with business_span("quote.update", submit=changes.submit) as span:
        updated = await _update(session, quote_id, changes, expected_version, actor)
        outcome(span, updated)
        return updated


async def _update(
    session: AsyncSession,
    quote_id: uuid.UUID,
    changes: QuoteUpdate,
    expected_version: int | None,
    actor: Actor,
) -> Result[Quote, DomainError]:
    match await get_quote(session, quote_id, actor=actor, for_update=True):
        case Err() as err:
            return err
        case Ok(quote):
            pass
    if not actor.has(Permission.QUOTES_WRITE):
        return Err(forbidden("auth.permission_missing", "this requires quotes:write"))
    if quote.status not in EDITABLE_STATUSES:
        return Err(conflict("quote.not_open", f"a {quote.status} quote cannot be changed"))
    if expected_version is not None and expected_version != quote.version:
        return Err(stale_version("quote"))
    if changes.effective_on is not None:
        quote.effective_on = changes.effective_on
    if changes.risk is not None:
        quote.risk = changes.risk.model_dump(mode="json")
    if changes.options is not None:
        quote.options = options_json(changes.options)
    quote.updated_at = clock.now()
    match await products.version_in_force(
        session, quote.product_code, quote.state, quote.effective_on
    ):
        case Err() as err:
            return err
        case Ok(version):
            pass
    if (
        changes.effective_on is not None
        and (problem := _date_problem(version, quote.effective_on, actor)) is not None
    ):
        return Err(problem)
    await audit.record(
        session,
        actor,
        "quote.updated",
        "quote",
        str(quote.id),
        {"fields": sorted(changes.model_fields_set)},
    )
    if not changes.submit:
        if quote.status != QuoteStatus.DRAFT:
            await move(session, quote, QuoteStatus.DRAFT, actor)
        quote.rating, quote.premium = None, None
        quote.product_version_id, quote.rate_version = version.id, version.version
        return Ok(quote)
    return await rate_and_underwrite(session, quote, version, actor)
