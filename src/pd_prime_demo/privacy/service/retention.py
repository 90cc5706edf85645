"""The retention schedule, run over the whole book in bounded chunks (GDPR Art. 5(1)(e) storage
limitation; CCPA 1798.100(a)(3)).

A run walks the customers in primary-key order, ``privacy_retention_chunk`` per transaction.
Each chunk reads its customers' dates in a few grouped queries, decides with the pure rules of
``privacy.retention_rules`` and, in the same transaction, purges what is due, moves the run's
cursor on and audits the chunk (counts and ids). A crash loses at most the open chunk; the next
run resumes the unfinished one from its cursor, and what was purged is gone or recorded as
erased, so nothing is purged twice. A person under a legal hold is skipped whole. Money and the
audit chain are never touched: a former insured is pseudonymised, not deleted (``erasure``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims import privacy as claims_privacy
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.crypto import FieldCipher
from pd_prime_demo.core.database import Database
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Ok, Result
from pd_prime_demo.customers import privacy as customers_privacy
from pd_prime_demo.policies import privacy as policies_privacy
from pd_prime_demo.privacy.models import PrivacyExport, PrivacyRequest
from pd_prime_demo.privacy.retention_models import ErasureRecord, RetentionRun
from pd_prime_demo.privacy.retention_rules import (
    CustomerClock,
    RetentionClass,
    RetentionPeriod,
    customer_due,
    due_quotes,
    schedule,
)
from pd_prime_demo.privacy.service import erasure, holds
from pd_prime_demo.quotes import privacy as quotes_privacy

# pg_advisory_xact_lock key: one run starts (or resumes) at a time ("PDRETAIN").
RETENTION_LOCK = 0x5044524554414E
RESOURCE = "retention_run"


def retention_schedule(settings: Settings) -> tuple[RetentionPeriod, ...]:
    return schedule(
        unbound_quote_years=settings.privacy_retention_unbound_quote_years,
        prospect_years=settings.privacy_retention_prospect_years,
        former_insured_years=settings.privacy_retention_former_insured_years,
    )


@dataclass(frozen=True, slots=True)
class ChunkOutcome:
    examined: int
    quotes_deleted: int
    erased: int  # prospects
    pseudonymised: int  # former insureds
    held: int  # skipped: under a legal hold
    exports_deleted: int = 0  # access answers past privacy_export_ttl_days


def _empty_progress() -> dict[str, Any]:
    return {
        "cursor": None,
        "examined": 0,
        "quotes_deleted": 0,
        "erased": 0,
        "pseudonymised": 0,
        "held": 0,
        "exports_deleted": 0,
        "done": False,
    }


async def start(db: Database, *, actor: Actor) -> RetentionRun:
    """The unfinished run to resume, or a new one; serialised so two starts make one run."""
    async with db.unit_of_work() as session:
        await session.execute(select(func.pg_advisory_xact_lock(RETENTION_LOCK)))
        unfinished = await session.scalar(
            select(RetentionRun)
            .where(RetentionRun.finished_at.is_(None))
            .order_by(RetentionRun.started_at.desc())
            .limit(1)
        )
        if unfinished is not None:
            return unfinished
        run = RetentionRun(
            id=uuid.uuid4(),
            started_at=clock.now(),
            finished_at=None,
            started_by=actor.id,
            progress=_empty_progress(),
            chunks=0,
        )
        session.add(run)
        await audit.record(session, actor, "privacy.retention_started", RESOURCE, str(run.id))
        return run


async def run(
    db: Database,
    settings: Settings,
    cipher: FieldCipher,
    *,
    actor: Actor,
    max_chunks: int | None = None,
) -> RetentionRun:
    """Run (or resume) the schedule to the end of the book, or for ``max_chunks`` chunks."""
    started = await start(db, actor=actor)
    done = 0
    while max_chunks is None or done < max_chunks:
        async with db.unit_of_work() as session:
            current = await session.scalar(
                select(RetentionRun).where(RetentionRun.id == started.id).with_for_update()
            )
            assert current is not None
            if current.finished_at is not None:
                return current
            await run_chunk(session, current, settings, cipher, actor=actor)
        done += 1
    async with db.sessionmaker() as session:
        latest = await session.get(RetentionRun, started.id)
        assert latest is not None
        return latest


async def run_chunk(
    session: AsyncSession,
    current: RetentionRun,
    settings: Settings,
    cipher: FieldCipher,
    *,
    actor: Actor,
) -> ChunkOutcome:
    """One chunk, in the caller's transaction: purge what is due, move the cursor on."""
    progress = dict(current.progress)
    after = None if progress["cursor"] is None else uuid.UUID(progress["cursor"])
    chunk = await customers_privacy.chunk_after(session, after, settings.privacy_retention_chunk)
    today = clock.today()
    periods = {p.record_class: p for p in retention_schedule(settings)}
    outcome = ChunkOutcome(0, 0, 0, 0, 0)
    deleted_quotes: list[uuid.UUID] = []
    erased_ids: list[uuid.UUID] = []
    pseudonymised_ids: list[uuid.UUID] = []
    held: set[uuid.UUID] = set()
    if chunk:
        ids = [c for c, _ in chunk]
        clocks = await _clocks(session, chunk)
        held = await holds.held_among(session, ids)
        already = set(
            await session.scalars(
                select(ErasureRecord.customer_id).where(ErasureRecord.customer_id.in_(ids))
            )
        )
        for customer_id in ids:
            if customer_id in held:
                continue
            person, unbound = clocks[customer_id]
            due = due_quotes(
                person.unbound_quote_expiries, periods[RetentionClass.UNBOUND_QUOTE], today
            )
            expired = [unbound[i] for i in due]
            deleted_quotes += expired
            await quotes_privacy.delete_quotes(session, expired)
            if customer_id in already:
                continue
            verdict = customer_due(
                person,
                prospect=periods[RetentionClass.PROSPECT],
                former_insured=periods[RetentionClass.FORMER_INSURED],
                today=today,
            )
            if verdict is None:
                continue
            result = await erasure.erase(
                session,
                customer_id,
                actor=actor,
                request_id=None,
                cipher=cipher,
                origin="retention",
            )
            if isinstance(result, Ok):
                target = erased_ids if verdict is RetentionClass.PROSPECT else pseudonymised_ids
                target.append(customer_id)
        exports = await _purge_exports(
            session, ids, before=clock.now() - timedelta(days=settings.privacy_export_ttl_days)
        )
        outcome = ChunkOutcome(
            len(ids),
            len(deleted_quotes),
            len(erased_ids),
            len(pseudonymised_ids),
            len(held),
            len(exports),
        )
        progress["cursor"] = str(ids[-1])
    for key in ("examined", "quotes_deleted", "erased", "pseudonymised", "held", "exports_deleted"):
        progress[key] = int(progress.get(key, 0)) + getattr(outcome, key)
    finished = len(chunk) < settings.privacy_retention_chunk
    progress["done"] = finished
    current.progress = progress
    current.chunks += 1
    if finished:
        current.finished_at = clock.now()
    await audit.record(
        session,
        actor,
        "privacy.retention_finished" if finished else "privacy.retention_chunk",
        RESOURCE,
        str(current.id),
        {
            "chunk": current.chunks,
            "examined": outcome.examined,
            "quotes_deleted": [str(q) for q in deleted_quotes],
            "erased": [str(c) for c in erased_ids],
            "pseudonymised": [str(c) for c in pseudonymised_ids],
            "held": len(held),
            "exports_deleted": outcome.exports_deleted,
        },
    )
    return outcome


async def _purge_exports(
    session: AsyncSession, customer_ids: list[uuid.UUID], *, before: datetime
) -> list[tuple[uuid.UUID, str]]:
    """Delete the chunk's access answers made before ``before`` (a hold does not keep them:
    the records they copy are kept, the copy is not). Bounded by the chunk's customers
    (ix_privacy_requests_customer), so the sweep never scans the exports table whole."""
    found = await session.execute(
        delete(PrivacyExport)
        .where(
            PrivacyExport.created_at < before,
            PrivacyExport.request_id.in_(
                select(PrivacyRequest.id).where(PrivacyRequest.customer_id.in_(customer_ids))
            ),
        )
        .returning(PrivacyExport.request_id, PrivacyExport.format)
    )
    return [(r, f) for r, f in found]


async def _clocks(
    session: AsyncSession, chunk: list[tuple[uuid.UUID, Any]]
) -> dict[uuid.UUID, tuple[CustomerClock, list[uuid.UUID]]]:
    """Each customer's retention dates, in four grouped queries for the whole chunk."""
    ids = [c for c, _ in chunk]
    quotes = await quotes_privacy.quotes_of(session, ids)
    bound = await policies_privacy.bound_quote_ids(session, [q for q, _, _ in quotes])
    policy_ends = await policies_privacy.last_term_ends(session, ids)
    claims = await claims_privacy.claim_states(session, ids)
    unbound: dict[uuid.UUID, list[tuple[uuid.UUID, date]]] = defaultdict(list)
    last_expiry: dict[uuid.UUID, date] = {}
    for quote_id, customer_id, expires_on in quotes:
        last_expiry[customer_id] = max(expires_on, last_expiry.get(customer_id, expires_on))
        if quote_id not in bound:
            unbound[customer_id].append((quote_id, expires_on))
    out: dict[uuid.UUID, tuple[CustomerClock, list[uuid.UUID]]] = {}
    for customer_id, created_at in chunk:
        open_claim, last_closed = claims.get(customer_id, (False, None))
        mine = unbound.get(customer_id, [])
        out[customer_id] = (
            CustomerClock(
                created_on=created_at.date(),
                unbound_quote_expiries=tuple(e for _, e in mine),
                last_quote_expiry=last_expiry.get(customer_id),
                last_policy_end=policy_ends.get(customer_id),
                has_claim=customer_id in claims,
                open_claim=open_claim,
                last_claim_closed=last_closed,
            ),
            [q for q, _ in mine],
        )
    return out


async def list_runs(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> Result[tuple[list[RetentionRun], str | None], DomainError]:
    """Runs, newest first (keyset on started_at, id)."""
    return await keyset_page(
        session,
        select(RetentionRun),
        cursor=cursor,
        limit=limit,
        keys=[RetentionRun.started_at, RetentionRun.id],
        descending=True,
    )


async def latest_run(session: AsyncSession) -> RetentionRun | None:
    return await session.scalar(
        select(RetentionRun).order_by(RetentionRun.started_at.desc()).limit(1)
    )
