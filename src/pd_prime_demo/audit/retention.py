"""Audit retention: monthly partitions wholly older than ``audit_retention_years`` are dropped,
oldest first, each batch only after a signed ``retention`` checkpoint records what goes.

The retention checkpoint names the last purged entry (id and hash) and how many entries the
chain held through it, so the rest of the chain keeps verifying: its first entry must link to
that hash, and every later anchor keeps its ordinal. Nothing is purged from a chain that does
not verify against its checkpoints (the evidence of tampering is not destroyed by retention),
and every purge is an audit entry of its own (ids and counts only).

Partitions are by month of ``occurred_at`` while the chain is in id order; an entry recorded
just before midnight on the last day of a month can commit after entries of the next month.
A purge must be a prefix of the chain, so a partition whose ids interleave with a later
month's waits until that month expires too and both go together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import structlog
from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service
from pd_prime_demo.audit.anchoring import write_checkpoint
from pd_prime_demo.audit.checkpoints import RETENTION, Purged, read_trail
from pd_prime_demo.audit.models import AuditEntry
from pd_prime_demo.audit.partitions import (
    PartitionInfo,
    drop_partition,
    expired_partitions,
    month_start,
)
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.checkpoint_keys import load_checkpoint_keys
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.runtime import HeldResources

log = structlog.get_logger("pd_prime_demo.audit.retention")

RETENTION_ACTOR = Actor.system("audit-retention")


class RetentionRefusedError(RuntimeError):
    """The chain does not verify against its checkpoints: nothing is purged."""


@dataclass(frozen=True, slots=True)
class Purge:
    partitions: tuple[str, ...]
    through_id: int
    entries: int
    checkpoint: int


@dataclass(frozen=True, slots=True)
class RetentionRun:
    purged: tuple[Purge, ...]
    postponed: tuple[str, ...]  # expired, but interleaved with a month not yet expired
    # Expired, but kept: an entry in it (or in an older partition kept for the same reason)
    # concerns a record under a legal hold, and a purge must be a prefix of the chain.
    held: tuple[str, ...] = ()


def retention_cutoff(today: date, years: int) -> date:
    """Partitions ending on or before this date are past retention (whole months only)."""
    start = month_start(today)
    return start.replace(year=start.year - years)


async def _is_prefix(session: AsyncSession, through_id: int, batch: list[PartitionInfo]) -> bool:
    """Whether the batch holds every entry with an id up to ``through_id``: no entry of a
    later month (nor one parked in the DEFAULT partition) sits inside the range purged."""
    held = await session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.id <= through_id)
    )
    return held == sum(p.rows for p in batch)


async def _concerns_held(
    session: AsyncSession, partition: PartitionInfo, held: list[tuple[str, str]]
) -> bool:
    """Whether the partition holds an entry about a held record (pruned to the partition by
    its range, then ix_audit_log_resource)."""
    found = await session.scalar(
        select(AuditEntry.id)
        .where(
            AuditEntry.occurred_at >= partition.range_from,
            AuditEntry.occurred_at < partition.range_to,
            tuple_(AuditEntry.resource_type, AuditEntry.resource_id).in_(held),
        )
        .limit(1)
    )
    return found is not None


async def apply_retention(
    session: AsyncSession,
    settings: Settings,
    *,
    held: HeldResources,
    today: date | None = None,
) -> RetentionRun:
    """Drop every expired monthly partition, oldest first, after its retention checkpoint.

    ``held`` names the records under a legal hold: a litigation hold blocks purges (the audit
    trail of a held policy or claim is evidence), so the first expired partition with an entry
    about one, and every later one, is kept until the hold is released.

    Raises :class:`RetentionRefusedError` when the chain does not verify against its
    checkpoints. The caller commits (the drops and the audit entries are one transaction; the
    checkpoint files were written before it).
    """
    cutoff = retention_cutoff(today or clock.today(), settings.audit_retention_years)
    expired = await expired_partitions(session, before=cutoff)
    if not expired:
        return RetentionRun((), ())
    report = await service.verify_against_checkpoints(session, settings)
    if not report.ok:
        raise RetentionRefusedError(
            f"the audit chain does not verify: {report.reason or report.checkpoint_problem}"
        )
    held_records = sorted(await held(session))
    purges: list[Purge] = []
    batch: list[PartitionInfo] = []
    for position, partition in enumerate(expired):
        if held_records and await _concerns_held(session, partition, held_records):
            kept = tuple(p.name for p in (*batch, *expired[position:]))
            log.warning("audit.retention_held", partitions=list(kept))
            return RetentionRun(tuple(purges), (), kept)
        batch.append(partition)
        filled = [p for p in batch if p.max_id is not None]
        if not filled:
            # Empty months: nothing of the chain is in them; they go with no checkpoint.
            for empty in batch:
                await drop_partition(session, empty.name)
                await _audit(session, settings, empty, None)
            batch = []
            continue
        through_id = max(p.max_id for p in filled if p.max_id is not None)
        if not await _is_prefix(session, through_id, batch):
            continue
        purges.append(await _purge(session, settings, batch, through_id))
        batch = []
    postponed = tuple(p.name for p in batch)
    if postponed:
        log.warning("audit.retention_postponed", partitions=list(postponed))
    return RetentionRun(tuple(purges), postponed)


async def _purge(
    session: AsyncSession, settings: Settings, batch: list[PartitionInfo], through_id: int
) -> Purge:
    trail = read_trail(settings, load_checkpoint_keys(settings))
    already = trail.purged
    entries = sum(p.rows for p in batch)
    if already is not None and already.through_id >= through_id:
        # A re-run after the checkpoint was written but the drop did not commit.
        sequence = trail.latest.sequence if trail.latest else 0
    else:
        last_hash = await session.scalar(select(AuditEntry.hash).where(AuditEntry.id == through_id))
        assert last_hash is not None  # through_id is the max id of a partition just read
        purged = Purged(
            through_id=through_id,
            count=(already.count if already else 0) + entries,
            last_hash=last_hash,
        )
        written = await write_checkpoint(session, settings, kind=RETENTION, purged=purged)
        assert written is not None  # a retention checkpoint is written even when idle
        sequence = written.checkpoint.sequence
    for partition in batch:
        await drop_partition(session, partition.name)
        await _audit(session, settings, partition, sequence)
    log.info(
        "audit.retention_purged",
        partitions=[p.name for p in batch],
        through_id=through_id,
        entries=entries,
        checkpoint=sequence,
    )
    return Purge(tuple(p.name for p in batch), through_id, entries, sequence)


async def _audit(
    session: AsyncSession, settings: Settings, partition: PartitionInfo, checkpoint: int | None
) -> None:
    # Ids and counts only (GDPR Art. 5(1)(c)); the checkpoint names the hashes.
    await service.record(
        session,
        RETENTION_ACTOR,
        "audit.retention_purged",
        "audit_partition",
        partition.name,
        {
            "min_id": partition.min_id,
            "max_id": partition.max_id,
            "entries": partition.rows,
            "checkpoint": checkpoint,
            "retention_years": settings.audit_retention_years,
        },
    )
