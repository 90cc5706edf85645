"""The compliance domain's queries: the only module that builds SQL on its tables."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.compliance.models import ControlEvidence, ControlRun
from pd_prime_demo.compliance.rules import GENESIS_HASH
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Result

# pg_advisory_xact_lock key reserved for the control-run chain ("PDCTRLRN" as a number).
CONTROL_CHAIN_LOCK = 0x50444354524C524E


async def lock_chain_and_read_tail(session: AsyncSession) -> str:
    """Take the chain's transaction-scoped lock, then read the last run's hash.

    The order matters (see migration 0004's note on the audit chain): under READ COMMITTED
    each statement takes a fresh snapshot, so a tail read after the lock is granted sees the
    run its previous holder committed; read before, two appends would share a predecessor.
    """
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CONTROL_CHAIN_LOCK})
    tail = await session.scalar(select(ControlRun.hash).order_by(ControlRun.id.desc()).limit(1))
    return tail or GENESIS_HASH


async def latest_started(session: AsyncSession, control_ids: Sequence[str]) -> dict[str, datetime]:
    """Each control's latest run start (on the (control_id, started_at) index)."""
    rows = await session.execute(
        select(ControlRun.control_id, func.max(ControlRun.started_at))
        .where(ControlRun.control_id.in_(control_ids))
        .group_by(ControlRun.control_id)
    )
    return dict(rows.all())


async def latest_runs(session: AsyncSession, control_ids: Sequence[str]) -> dict[str, ControlRun]:
    """Each control's latest run (DISTINCT ON over the (control_id, started_at) index)."""
    if not control_ids:
        return {}
    rows = await session.scalars(
        select(ControlRun)
        .where(ControlRun.control_id.in_(control_ids))
        .ext(distinct_on(ControlRun.control_id))
        .order_by(ControlRun.control_id, ControlRun.started_at.desc(), ControlRun.id.desc())
    )
    return {row.control_id: row for row in rows}


async def page_runs(
    session: AsyncSession,
    *,
    control_id: str | None,
    started_from: datetime | None,
    started_before: datetime | None,
    passed: bool | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[ControlRun], str | None], DomainError]:
    query = select(ControlRun)
    if control_id is not None:
        query = query.where(ControlRun.control_id == control_id)
    if started_from is not None:
        query = query.where(ControlRun.started_at >= started_from)
    if started_before is not None:
        query = query.where(ControlRun.started_at < started_before)
    if passed is not None:
        query = query.where(ControlRun.passed.is_(passed))
    return await keyset_page(
        session, query, cursor=cursor, limit=limit, keys=[ControlRun.id], descending=True
    )


async def get_run(session: AsyncSession, run_id: int) -> ControlRun | None:
    return await session.get(ControlRun, run_id)


async def get_evidence(session: AsyncSession, run_id: int, name: str) -> ControlEvidence | None:
    return await session.get(ControlEvidence, (run_id, name))


async def _batches(
    session: AsyncSession,
    *conditions: ColumnElement[bool],
    batch_size: int,
    fresh: bool = False,
) -> AsyncIterator[list[ControlRun]]:
    """The runs meeting ``conditions`` in chain order, a batch at a time (keyset on id, never
    the whole table in memory); ``fresh`` reloads rows the session already holds."""
    last_id = 0
    while True:
        query = (
            select(ControlRun)
            .where(*conditions, ControlRun.id > last_id)
            .order_by(ControlRun.id)
            .limit(batch_size)
        )
        if fresh:
            query = query.execution_options(populate_existing=True)
        rows = list((await session.scalars(query)).all())
        if not rows:
            return
        yield rows
        last_id = rows[-1].id


def chain_batches(session: AsyncSession, *, batch_size: int) -> AsyncIterator[list[ControlRun]]:
    """Every run in chain order, as stored (verification must not trust the session's copies)."""
    return _batches(session, batch_size=batch_size, fresh=True)


def runs_started_between(
    session: AsyncSession, start: datetime, end: datetime, *, batch_size: int
) -> AsyncIterator[list[ControlRun]]:
    """The runs that started in [start, end), in chain order, a batch at a time."""
    return _batches(
        session, ControlRun.started_at >= start, ControlRun.started_at < end, batch_size=batch_size
    )


async def evidence_descriptions(
    session: AsyncSession, run_ids: Sequence[int]
) -> dict[int, list[tuple[str, str, int, str]]]:
    """(name, media type, size, SHA-256) of each stored artefact of ``run_ids`` (no content)."""
    rows = await session.execute(
        select(
            ControlEvidence.run_id,
            ControlEvidence.name,
            ControlEvidence.media_type,
            ControlEvidence.size,
            ControlEvidence.sha256,
        ).where(ControlEvidence.run_id.in_(run_ids))
    )
    found: dict[int, list[tuple[str, str, int, str]]] = {}
    for run_id, name, media_type, size, sha256 in rows:
        found.setdefault(run_id, []).append((name, media_type, size, sha256))
    return found


async def evidence_contents(session: AsyncSession, run_id: int) -> list[ControlEvidence]:
    return list(
        (
            await session.scalars(
                select(ControlEvidence)
                .where(ControlEvidence.run_id == run_id)
                .order_by(ControlEvidence.name)
            )
        ).all()
    )


async def chain_head(session: AsyncSession) -> tuple[int, str] | None:
    row = (
        await session.execute(
            select(ControlRun.id, ControlRun.hash).order_by(ControlRun.id.desc()).limit(1)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def run_hashes(session: AsyncSession, run_ids: Sequence[int]) -> dict[int, str]:
    """The stored hash of each of ``run_ids`` that exists."""
    if not run_ids:
        return {}
    rows = await session.execute(
        select(ControlRun.id, ControlRun.hash).where(ControlRun.id.in_(run_ids))
    )
    return {row[0]: row[1] for row in rows}


async def count_runs(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ControlRun)) or 0)
