"""Security reviews (AICPA TSC CC7.3): an administrator records that the security events of a
period were evaluated, with what was found; the CC7.3 control reads the latest.

Append-only (the table refuses updates and deletes): a review found wrong is followed by a
new one, and the audit log names each by id (its findings are free text, never in the log).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.compliance.evidence_models import SecurityReview
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Err, FieldIssue, Ok, Result, invalid

# A review covers at most a quarter: longer, and "reviewed" says little about any one week.
MAX_PERIOD = timedelta(days=92)


def period_problem(covers_from: datetime, covers_to: datetime, now: datetime) -> DomainError | None:
    """Why a review's period cannot be recorded (None: it can)."""
    if covers_from >= covers_to:
        issue = FieldIssue("/covers_from", "must be before covers_to")
        return invalid("security_review.period_invalid", "the period is empty or reversed", issue)
    if covers_to > now:
        issue = FieldIssue("/covers_to", "must not be in the future")
        return invalid(
            "security_review.period_future", "events not yet logged cannot be reviewed", issue
        )
    if covers_to - covers_from > MAX_PERIOD:
        issue = FieldIssue("/covers_from", f"the period is longer than {MAX_PERIOD.days} days")
        return invalid("security_review.period_too_long", "review at most a quarter at once", issue)
    return None


async def record_review(
    session: AsyncSession,
    *,
    covers_from: datetime,
    covers_to: datetime,
    outcome: str,
    events_reviewed: int,
    findings: str,
    reference: str | None,
    now: datetime,
    actor: Actor,
) -> Result[SecurityReview, DomainError]:
    if (problem := period_problem(covers_from, covers_to, now)) is not None:
        return Err(problem)
    review = SecurityReview(
        id=uuid.uuid4(),
        recorded_at=now,
        reviewed_by=actor.id,
        covers_from=covers_from,
        covers_to=covers_to,
        outcome=outcome,
        events_reviewed=events_reviewed,
        findings=findings,
        reference=reference,
    )
    session.add(review)
    await session.flush()
    await audit.record(
        session,
        actor,
        "compliance.security_review_recorded",
        "security_review",
        str(review.id),
        {"outcome": outcome, "events_reviewed": events_reviewed},
    )
    return Ok(review)


async def get_review(session: AsyncSession, review_id: uuid.UUID) -> SecurityReview | None:
    return await session.get(SecurityReview, review_id)


async def list_reviews(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> Result[tuple[list[SecurityReview], str | None], DomainError]:
    """Newest period first (keyset on ix_security_reviews_covers_to_id)."""
    return await keyset_page(
        session,
        select(SecurityReview),
        cursor=cursor,
        limit=limit,
        keys=[SecurityReview.covers_to, SecurityReview.id],
        descending=True,
    )


async def reviews_since(
    session: AsyncSession, since: datetime, *, limit: int
) -> list[SecurityReview]:
    """The reviews whose period ends at or after ``since``, newest period first."""
    return list(
        await session.scalars(
            select(SecurityReview)
            .where(SecurityReview.covers_to >= since)
            .order_by(SecurityReview.covers_to.desc(), SecurityReview.id.desc())
            .limit(limit)
        )
    )
