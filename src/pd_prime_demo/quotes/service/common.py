"""What the quote use cases share: rating and underwriting a quote, and moving its status
(every move audited and published to the outbox in the same transaction)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.outbox import emit
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, not_found
from pd_prime_demo.products import service as products
from pd_prime_demo.quotes.enums import QuoteStatus
from pd_prime_demo.quotes.models import Quote
from pd_prime_demo.rating.engine import underwrite
from pd_prime_demo.rating.packages import Rated, rate_packages

NOT_FOUND = not_found("quote")


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


@dataclasses.dataclass(frozen=True, slots=True)
class Assessment:
    """Where rating and underwriting send a quote, and what its audit entry says about it."""

    status: QuoteStatus
    detail: dict[str, Any]


def rate(
    version: products.CompiledVersion, quote: Quote, *, explain: bool = False
) -> Result[Rated, DomainError]:
    return rate_packages(
        version.definition,
        version.engine,
        quote.risk,
        quote.options,
        quote.surcharge,
        explain=explain,
    )


def assess(quote: Quote, version: products.CompiledVersion) -> Result[Assessment, DomainError]:
    """Rate every package and underwrite the risk, filling in the quote's rating fields."""
    match rate(version, quote):
        case Err() as err:
            return err
        case Ok(rated):
            pass
    hits = underwrite(version.engine, rated.risk)
    quote.product_version_id = version.id
    quote.rate_version = version.version
    quote.rating = rating_json(rated)
    quote.premium = rated.results[0][1].premium
    quote.underwriting = {"hits": [dataclasses.asdict(h) for h in hits]}
    quote.expires_on = clock.today() + timedelta(days=version.definition.quote_validity_days)
    declines = [h for h in hits if h.action == "decline"]
    referrals = [h for h in hits if h.action == "refer"]
    quote.required_authority = max((h.authority for h in referrals), default=None)
    if declines:
        status = QuoteStatus.DECLINED
    elif referrals:
        status = QuoteStatus.REFERRED
    else:
        status = QuoteStatus.QUOTED
    detail = {
        "rate_version": version.version,
        "rules": [h.code for h in hits],
        "premium": str(quote.premium),
    }
    return Ok(Assessment(status, detail))


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
