"""What the quote use cases share: rating and underwriting a quote, and moving its status
(every move audited and published to the outbox in the same transaction)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from opentelemetry.trace import Span
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.after_commit import after_commit
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, not_found
from pd_prime_demo.core.telemetry import QUOTES_DECLINED, QUOTES_REFERRED, RATING_DURATION
from pd_prime_demo.core.tracing import annotate, business_span
from pd_prime_demo.products import service as products
from pd_prime_demo.quotes.enums import QuoteStatus
from pd_prime_demo.quotes.models import Quote
from pd_prime_demo.rating.engine import RuleHit, underwrite
from pd_prime_demo.rating.packages import Rated, rate_packages

NOT_FOUND = not_found("quote")

# A quote is referred at most once (a referred quote is not editable) and declined once (it is
# final), by its rules or an underwriter: the counters count quotes, not re-ratings.
_COUNTED_MOVES = {QuoteStatus.REFERRED: QUOTES_REFERRED, QuoteStatus.DECLINED: QUOTES_DECLINED}


def rating_json(rated: Rated) -> list[dict[str, Any]]:
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


async def move(
    session: AsyncSession, quote: Quote, status: QuoteStatus, actor: Actor, **detail: Any
) -> None:
    previous = quote.status
    quote.status = status
    quote.updated_at = clock.now()
    await session.flush()
    await announce(session, quote, previous, actor, **detail)


async def announce(
    session: AsyncSession, quote: Quote, previous: str, actor: Actor, **detail: Any
) -> None:
    """Audit and publish the move from ``previous`` to the quote's (already flushed) status."""
    status = quote.status
    if (counter := _COUNTED_MOVES.get(QuoteStatus(status))) is not None:
        after_commit(session, counter.labels(quote.product_code, quote.state).inc)
    summary = {"from": previous, "to": status, **detail}
    await audit.record(session, actor, f"quote.{status}", "quote", str(quote.id), summary)
    emit(
        session,
        f"quote.{status}",
        "quote",
        str(quote.id),
        {"number": quote.number, "customer_id": str(quote.customer_id), **summary},
        customer_id=quote.customer_id,
    )


def outcome(span: Span, result: Result[Quote, DomainError]) -> None:
    """What a quote use case came to, on its span: the quote (by id) and its status, or the
    error's code."""
    match result:
        case Ok(quote):
            annotate(
                span,
                quote_id=str(quote.id),
                product=quote.product_code,
                state=quote.state,
                outcome=str(quote.status),
            )
        case Err(error):
            annotate(span, outcome=error.code)


@dataclasses.dataclass(frozen=True, slots=True)
class Assessment:
    """Where rating and underwriting send a quote, and what its audit entry says about it."""

    status: QuoteStatus
    detail: dict[str, Any]


def rate(
    version: products.CompiledVersion, quote: Quote, *, explain: bool = False
) -> Result[Rated, DomainError]:
    """Rate every package of ``quote`` (a span, and its latency in the rating histogram)."""
    with business_span(
        "quote.rate",
        product=quote.product_code,
        state=quote.state,
        rate_version=version.version,
        packages=len(quote.options),
        explain=explain,
    ) as span:
        started = time.perf_counter()
        rated = rate_packages(
            version.definition,
            version.engine,
            quote.risk,
            quote.options,
            quote.surcharge,
            explain=explain,
        )
        # The worksheet's explained rating records every step: a report, slower by design,
        # kept out of the latency of pricing a quote.
        if not explain:
            RATING_DURATION.labels(quote.product_code).observe(time.perf_counter() - started)
        match rated:
            case Ok(result):
                annotate(span, premium=str(result.results[0][1].premium))
            case Err(error):
                annotate(span, outcome=error.code)
        return rated


def assess(quote: Quote, version: products.CompiledVersion) -> Result[Assessment, DomainError]:
    """Rate every package and underwrite the risk, filling in the quote's rating fields."""
    match rate(version, quote):
        case Err() as err:
            return err
        case Ok(rated):
            pass
    with business_span("quote.underwrite", product=quote.product_code, state=quote.state) as span:
        hits = underwrite(version.engine, rated.risk)
        status = _status_of(hits)
        annotate(
            span,
            outcome=status.value,
            rules_fired=len(hits),
            rules=[h.code for h in hits],
        )
    quote.product_version_id = version.id
    quote.rate_version = version.version
    quote.rating = rating_json(rated)
    quote.premium = rated.results[0][1].premium
    quote.underwriting = {"hits": [dataclasses.asdict(h) for h in hits]}
    quote.expires_on = clock.today() + timedelta(days=version.definition.quote_validity_days)
    referrals = [h for h in hits if h.action == "refer"]
    quote.required_authority = max((h.authority for h in referrals), default=None)
    detail = {
        "rate_version": version.version,
        "rules": [h.code for h in hits],
        "premium": str(quote.premium),
    }
    return Ok(Assessment(status, detail))


def _status_of(hits: Sequence[RuleHit]) -> QuoteStatus:
    if any(h.action == "decline" for h in hits):
        return QuoteStatus.DECLINED
    if any(h.action == "refer" for h in hits):
        return QuoteStatus.REFERRED
    return QuoteStatus.QUOTED


async def rate_and_underwrite(
    session: AsyncSession, quote: Quote, version: products.CompiledVersion, actor: Actor
) -> Result[Quote, DomainError]:
    match assess(quote, version):
        case Err() as err:
            return err
        case Ok(assessment):
            await move(session, quote, assessment.status, actor, **assessment.detail)
            return Ok(quote)
    raise AssertionError("unreachable")  # pragma: no cover
