"""Quote use cases: create and rate, re-rate while open, expire, and underwriting decisions.

Status machine (every move audited and published to the outbox in the same transaction):

    draft -> quoted | referred | declined        (rated and underwritten)
    quoted -> quoted | referred | declined       (updated and re-rated)
    referred -> approved | declined              (an underwriter with enough authority)
    draft | quoted | referred | approved -> expired  (past the product's validity period)
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from beartype import beartype
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    forbidden,
    invalid,
    not_found,
    stale_version,
)
from pd_prime_demo.customers import service as customers
from pd_prime_demo.products import service as products
from pd_prime_demo.products.models import ProductVersion
from pd_prime_demo.quotes.models import Quote
from pd_prime_demo.quotes.schemas import QuoteCreate, QuoteOption, QuoteUpdate, UnderwritingDecision
from pd_prime_demo.rating.definition import ProductVersionDefinition
from pd_prime_demo.rating.engine import CompiledProduct, RatingInput, RatingResult, underwrite
from pd_prime_demo.rating.risk import build_risk, build_selections

NOT_FOUND = not_found("quote")
OPEN_STATUSES = frozenset({"draft", "quoted", "referred", "approved"})
EDITABLE_STATUSES = frozenset({"draft", "quoted"})
MAX_DAYS_AHEAD = 365


def _options_json(options: list[QuoteOption]) -> list[dict[str, Any]]:
    return [o.model_dump(mode="json", exclude_none=True) for o in options]


def _check_effective(on_date: Any) -> list[FieldIssue]:
    today = clock.today()
    if on_date < today:
        return [FieldIssue("#/effective_on", "must not be in the past")]
    if on_date > today + timedelta(days=MAX_DAYS_AHEAD):
        return [FieldIssue("#/effective_on", f"must be within {MAX_DAYS_AHEAD} days")]
    return []


@dataclasses.dataclass(frozen=True, slots=True)
class Rated:
    results: list[tuple[str, RatingResult]]
    risk: RatingInput


def rate_quote(
    defn: ProductVersionDefinition,
    compiled: CompiledProduct,
    risk: dict[str, Any],
    options: list[dict[str, Any]],
    surcharge: Decimal | None,
    *,
    explain: bool = False,
) -> Result[Rated, DomainError]:
    """Validate the risk and every package against the version, then rate each package."""
    rating_input, issues = build_risk(defn, risk)
    packages = []
    for i, option in enumerate(options):
        selections, option_issues = build_selections(
            defn, option.get("coverages", {}), f"#/options/{i}/coverages"
        )
        issues += option_issues
        packages.append((str(option["name"]), selections))
    if issues:
        return Err(
            invalid("quote.invalid_risk", "the risk or coverage choices are not valid", *issues)
        )
    results = [
        (
            name,
            compiled.rate(
                dataclasses.replace(rating_input, coverages=selections, surcharge=surcharge),
                explain=explain,
            ),
        )
        for name, selections in packages
    ]
    return Ok(Rated(results, rating_input))


def _rating_json(rated: Rated) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "coverage_premiums": {k: str(v) for k, v in r.coverage_premiums.items()},
            "premium": str(r.premium),
            "fees": [{"name": f.name, "amount": str(f.amount)} for f in r.fees],
            "taxes": [{"name": t.name, "amount": str(t.amount)} for t in r.taxes],
            "total": str(r.total),
        }
        for name, r in rated.results
    ]


async def _move(
    session: AsyncSession, quote: Quote, status: str, actor: Actor, **detail: Any
) -> None:
    previous = quote.status
    quote.status = status
    quote.updated_at = clock.now()
    await session.flush()
    await _announce(session, quote, previous, actor, **detail)


async def _announce(
    session: AsyncSession, quote: Quote, previous: str, actor: Actor, **detail: Any
) -> None:
    """Audit and publish the move from ``previous`` to the quote's (already flushed) status."""
    status = quote.status
    summary = {"from": previous, "to": status, **detail}
    await audit.record(session, actor, f"quote.{status}", "quote", str(quote.id), summary)
    emit(
        session,
        f"quote.{status}",
        "quote",
        str(quote.id),
        {"number": quote.number, "customer_id": str(quote.customer_id), **summary},
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Assessment:
    """Where rating and underwriting send a quote, and what its audit entry says about it."""

    status: str
    detail: dict[str, Any]


async def _assess(
    session: AsyncSession, quote: Quote, version: ProductVersion
) -> Result[Assessment, DomainError]:
    """Rate every package and underwrite the risk, filling in the quote's rating fields."""
    compiled = await products.compiled_products.get(session, version)
    defn = compiled.definition
    match rate_quote(defn, compiled, quote.risk, quote.options, quote.surcharge):
        case Err() as err:
            return err
        case Ok(rated):
            pass
    hits = underwrite(compiled, rated.risk)
    quote.product_version_id = version.id
    quote.rate_version = version.version
    quote.rating = _rating_json(rated)
    quote.premium = rated.results[0][1].premium
    quote.underwriting = {"hits": [dataclasses.asdict(h) for h in hits]}
    quote.expires_on = clock.today() + timedelta(days=defn.quote_validity_days)
    declines = [h for h in hits if h.action == "decline"]
    referrals = [h for h in hits if h.action == "refer"]
    quote.required_authority = max((h.authority for h in referrals), default=None)
    if declines:
        status = "declined"
    elif referrals:
        status = "referred"
    else:
        status = "quoted"
    detail = {
        "rate_version": version.version,
        "rules": [h.code for h in hits],
        "premium": str(quote.premium),
    }
    return Ok(Assessment(status, detail))


async def _rate_and_underwrite(
    session: AsyncSession, quote: Quote, version: ProductVersion, actor: Actor
) -> Result[Quote, DomainError]:
    match await _assess(session, quote, version):
        case Err() as err:
            return err
        case Ok(assessment):
            await _move(session, quote, assessment.status, actor, **assessment.detail)
            return Ok(quote)


@beartype
async def create_quote(
    session: AsyncSession, data: QuoteCreate, *, actor: Actor
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
    if issues := _check_effective(data.effective_on):
        return Err(
            invalid("quote.invalid_effective_date", "effective_on is not acceptable", *issues)
        )
    match await products.select_version(session, data.product_code, data.state, data.effective_on):
        case Err() as err:
            return err
        case Ok(version):
            pass
    now = clock.now()
    validity = (
        await products.compiled_products.get(session, version)
    ).definition.quote_validity_days
    quote = Quote(
        id=uuid.uuid4(),
        customer_id=data.customer_id,
        created_by=actor.id,
        product_code=data.product_code,
        state=data.state,
        effective_on=data.effective_on,
        expires_on=now.date() + timedelta(days=validity),
        status="draft",
        product_version_id=version.id,
        rate_version=version.version,
        risk=data.risk.model_dump(mode="json"),
        options=_options_json(data.options),
        underwriting={"hits": []},
        version=1,
        created_at=now,
        updated_at=now,
    )
    assessment: Assessment | None = None
    if data.submit:
        # Rated before the first write, so a submitted quote is inserted once, already rated.
        match await _assess(session, quote, version):
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
    )
    if assessment is not None:
        await _announce(session, quote, "draft", actor, **assessment.detail)
    return Ok(quote)


async def _expire_if_due(session: AsyncSession, quote: Quote) -> None:
    if quote.status in OPEN_STATUSES and clock.today() > quote.expires_on:
        await _move(session, quote, "expired", Actor.system("quote-expiry"))


async def get_quote(
    session: AsyncSession, quote_id: uuid.UUID, *, actor: Actor, for_update: bool = False
) -> Result[Quote, DomainError]:
    """The quote if ``actor`` may see its customer (404 otherwise); expired on read if due."""
    if not actor.has(Permission.QUOTES_READ):
        return Err(NOT_FOUND)
    quote = await session.get(Quote, quote_id, with_for_update=for_update)
    if quote is None:
        return Err(NOT_FOUND)
    if not await customers.may_see(session, quote.customer_id, actor=actor):
        return Err(NOT_FOUND)
    await _expire_if_due(session, quote)
    return Ok(quote)


async def list_quotes(
    session: AsyncSession,
    *,
    actor: Actor,
    status: str | None,
    customer_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[Quote], str | None], DomainError]:
    if not actor.has(Permission.QUOTES_READ):
        return Ok(([], None))
    query = select(Quote).where(Quote.customer_id.in_(customers.visible_ids(actor)))
    if status is not None:
        query = query.where(Quote.status == status)
    if customer_id is not None:
        query = query.where(Quote.customer_id == customer_id)
    return await keyset_page(session, query, Quote, cursor=cursor, limit=limit)


@beartype
async def update_quote(
    session: AsyncSession,
    quote_id: uuid.UUID,
    changes: QuoteUpdate,
    *,
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
        if issues := _check_effective(changes.effective_on):
            return Err(
                invalid("quote.invalid_effective_date", "effective_on is not acceptable", *issues)
            )
        quote.effective_on = changes.effective_on
    if changes.risk is not None:
        quote.risk = changes.risk.model_dump(mode="json")
    if changes.options is not None:
        quote.options = _options_json(changes.options)
    quote.updated_at = clock.now()
    match await products.select_version(
        session, quote.product_code, quote.state, quote.effective_on
    ):
        case Err() as err:
            return err
        case Ok(version):
            pass
    await audit.record(
        session,
        actor,
        "quote.updated",
        "quote",
        str(quote.id),
        {"fields": sorted(changes.model_fields_set)},
    )
    if not changes.submit:
        if quote.status != "draft":
            await _move(session, quote, "draft", actor)
        quote.rating, quote.premium = None, None
        quote.product_version_id, quote.rate_version = version.id, version.version
        return Ok(quote)
    return await _rate_and_underwrite(session, quote, version, actor)


@beartype
async def decide_referral(
    session: AsyncSession, quote_id: uuid.UUID, decision: UnderwritingDecision, *, actor: Actor
) -> Result[Quote, DomainError]:
    if not actor.has(Permission.UNDERWRITING_DECIDE):
        return Err(forbidden("auth.permission_missing", "this requires underwriting:decide"))
    match await get_quote(session, quote_id, actor=actor, for_update=True):
        case Err() as err:
            return err
        case Ok(quote):
            pass
    if quote.status != "referred":
        return Err(conflict("quote.not_referred", f"a {quote.status} quote has no open referral"))
    needed = quote.required_authority or 1
    if actor.authority < needed:
        return Err(
            forbidden(
                "underwriting.insufficient_authority",
                f"this referral needs authority {needed}; yours is {actor.authority}",
            )
        )
    quote.decision_note = decision.note
    quote.decided_by = actor.id
    quote.decided_at = clock.now()
    if decision.decision == "decline":
        await _move(session, quote, "declined", actor, decision="decline")
        return Ok(quote)
    if decision.surcharge_percent is not None:
        quote.surcharge = Decimal(1) + decision.surcharge_percent / Decimal(100)
    if decision.options is not None:
        quote.options = _options_json(decision.options)
    assert quote.product_version_id is not None
    version = await session.get(ProductVersion, quote.product_version_id)
    assert version is not None
    compiled = await products.compiled_products.get(session, version)
    match rate_quote(compiled.definition, compiled, quote.risk, quote.options, quote.surcharge):
        case Err() as err:
            return err
        case Ok(rated):
            pass
    quote.rating = _rating_json(rated)
    quote.premium = rated.results[0][1].premium
    await _move(
        session,
        quote,
        "approved",
        actor,
        decision="approve",
        surcharge=str(quote.surcharge) if quote.surcharge else None,
        changed_terms=decision.options is not None,
    )
    return Ok(quote)


async def referral_queue(session: AsyncSession, *, actor: Actor, limit: int) -> list[Quote]:
    """Referred quotes this underwriter may decide, oldest first."""
    if not actor.has(Permission.UNDERWRITING_DECIDE):
        return []
    query = (
        select(Quote)
        .where(Quote.status == "referred", Quote.required_authority <= actor.authority)
        .order_by(Quote.created_at)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def worksheet(
    session: AsyncSession, quote: Quote
) -> Result[tuple[ProductVersion, list[tuple[str, RatingResult]]], DomainError]:
    """Re-rate from the recorded version with explanations; must match the stored premium."""
    if quote.rating is None or quote.product_version_id is None:
        return Err(conflict("quote.not_rated", "a draft quote has no rating yet"))
    version = await session.get(ProductVersion, quote.product_version_id)
    assert version is not None
    compiled = await products.compiled_products.get(session, version)
    match rate_quote(
        compiled.definition, compiled, quote.risk, quote.options, quote.surcharge, explain=True
    ):
        case Err() as err:
            return err
        case Ok(rated):
            pass
    if str(rated.results[0][1].premium) != quote.rating[0]["premium"]:
        raise RuntimeError(f"quote {quote.id}: re-rating differs from the recorded premium")
    return Ok((version, rated.results))


BINDABLE_STATUSES = frozenset({"quoted", "approved"})


async def mark_bound(
    session: AsyncSession, quote: Quote, *, policy_id: uuid.UUID, option: str, actor: Actor
) -> None:
    """The quote's last move: bound into ``policy_id``."""
    await _move(session, quote, "bound", actor, policy_id=str(policy_id), option=option)


async def expire_due(session: AsyncSession, *, limit: int = 1000) -> int:
    """Expire open quotes past their validity (run by the CLI or a scheduled job)."""
    rows = (
        await session.scalars(
            select(Quote)
            .where(Quote.status.in_(OPEN_STATUSES), Quote.expires_on < clock.today())
            .order_by(Quote.expires_on)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for quote in rows:
        await _move(session, quote, "expired", Actor.system("quote-expiry"))
    return len(rows)
