"""The database's chain held against the signed checkpoints (``audit.checkpoints``).

A walk of the chain proves the rows present link up; the checkpoints say what was there. For
every entry a checkpoint vouches for (its head and its anchors, each with its ordinal) in chain
order, this checks that the number of entries between it and the one before is what the
checkpoints recorded, and that it still has the recorded hash. The first discrepancy names
what happened:

- fewer entries than recorded and the vouched-for entry gone: the end of the chain (or all of
  it) was removed: "entries a..b recorded by checkpoint n are missing";
- fewer entries, the vouched-for entry present: a middle entry was removed and the rest
  re-chained: the count mismatch and its range (within one anchor interval);
- the same count, another hash: an entry's content was rewritten and every later hash
  recomputed, somewhere after the last matching anchor and at or before this one.

Counting is one aggregate in PostgreSQL (``width_bucket`` over the anchors' ids), and the
anchors' hashes one indexed lookup: nothing here loads the chain into memory.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import BigInteger, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit.checkpoints import Anchor, Checkpoint, Trail, anchors_of
from pd_prime_demo.audit.models import AuditEntry
from pd_prime_demo.audit.verify import ChainWalk


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries_checked: int
    first_bad_id: int | None
    reason: str | None
    # The checkpoints whose signature and link verified, and the newest of them.
    checkpoints_checked: int = 0
    latest_checkpoint: int | None = None
    # Entries appended after the newest checkpoint: verified as a chain only.
    entries_after_checkpoint: int | None = None
    # Entries a checkpoint recorded that the database no longer holds (ids, inclusive).
    missing_from_id: int | None = None
    missing_through_id: int | None = None
    missing_count: int | None = None
    # Where a rewrite with recomputed hashes happened: after one id, at or before the other.
    rewritten_after_id: int | None = None
    rewritten_through_id: int | None = None
    # A checkpoint file that is missing, altered, or signed by a key that is not trusted.
    checkpoint_problem: str | None = None
    warning: str | None = None
    # What this run walked (audit.incremental): "full" from the chain's start, or
    # "incremental" from the head the signed verified marker records (``walked_after_id``).
    mode: str = "full"
    entries_walked: int | None = None
    walked_after_id: int | None = None
    previously_verified_at: datetime | None = None
    # A verified marker that does not verify (edited, forged): the run walked everything.
    marker_problem: str | None = None
    marker_written: bool = False

    @property
    def ok(self) -> bool:
        return (
            self.reason is None and self.checkpoint_problem is None and self.marker_problem is None
        )


_BOUNDED = (
    select(
        func.width_bucket(AuditEntry.id - 1, bindparam("bounds", type_=ARRAY(BigInteger))).label(
            "bucket"
        )
    )
    .where(AuditEntry.id > bindparam("after_id"))
    .subquery()
)
# Bucket j counts the entries after the j-th vouched-for id through the (j+1)-th.
_BUCKETS = select(_BOUNDED.c.bucket, func.count()).group_by(_BOUNDED.c.bucket)
_HASHES = select(AuditEntry.id, AuditEntry.hash).where(
    AuditEntry.id == func.any(bindparam("ids", type_=ARRAY(BigInteger)))
)


def vouched(trail: Trail, after_id: int) -> list[tuple[Checkpoint, Anchor]]:
    """Each vouched-for entry once, in id order (a retention checkpoint may repeat a head)."""
    seen: set[int] = set()
    points: list[tuple[Checkpoint, Anchor]] = []
    for checkpoint, anchor in anchors_of(trail):
        if anchor.id > after_id and anchor.id not in seen:
            seen.add(anchor.id)
            points.append((checkpoint, anchor))
    points.sort(key=lambda point: point[1].id)
    return points


async def compare_with_trail(
    session: AsyncSession, trail: Trail, walk: ChainWalk, *, start: Anchor | None = None
) -> ChainReport:
    """``walk`` held against ``trail``; from ``start`` on only (an entry already verified, with
    its ordinal), when the entries before it were checked otherwise (audit.incremental)."""
    report = ChainReport(
        walk.entries_checked,
        walk.first_bad_id,
        walk.reason,
        checkpoints_checked=len(trail.checkpoints),
        latest_checkpoint=trail.latest.sequence if trail.latest else None,
        checkpoint_problem=trail.problem,
    )
    if not trail.directory_exists:
        report = replace(
            report, warning="no checkpoint directory yet: verified as a bare hash chain"
        )
    elif not trail.checkpoints:
        report = replace(report, warning="no trusted checkpoint: verified as a bare hash chain")
    # A broken walk is still held against the checkpoints: they say what the break is (the
    # entries after a removed tail link to the removed head, as the append reads the head from
    # audit_chain_head), and their finding, where they have one, is the report.
    if not trail.checkpoints:
        return report
    finding = await _held_against(session, trail, report, start)
    if walk.first_bad_id is not None and (
        finding.first_bad_id is None or finding.first_bad_id > walk.first_bad_id
    ):
        # The walk broke before anything the checkpoints found: that break is the first bad
        # entry (what the checkpoints found later stays in the report's other fields).
        return replace(finding, first_bad_id=walk.first_bad_id, reason=walk.reason)
    return finding


async def _held_against(
    session: AsyncSession, trail: Trail, report: ChainReport, start: Anchor | None
) -> ChainReport:
    """``report`` with the first thing the checkpoints of ``trail`` find wrong, if any."""
    purged = trail.purged
    after_id, after_n = (purged.through_id, purged.count) if purged else (0, 0)
    if start is not None and start.id > after_id:
        after_id, after_n = start.id, start.n
    points = vouched(trail, after_id)
    bounds = [anchor.id for _, anchor in points]
    counts = {
        int(bucket): int(count)
        for bucket, count in await session.execute(
            _BUCKETS, {"bounds": bounds, "after_id": after_id}
        )
    }
    hashes = {row.id: row.hash for row in await session.execute(_HASHES, {"ids": bounds})}
    report = replace(report, entries_after_checkpoint=counts.get(len(points), 0))
    prev_id, prev_n = after_id, after_n
    for index, (checkpoint, anchor) in enumerate(points):
        expected, held = anchor.n - prev_n, counts.get(index, 0)
        if anchor.id not in hashes:
            # Gone, whatever else the interval holds now (others may have been slipped in).
            return await _missing_tail(session, report, points, index, counts, prev_id, prev_n)
        if held < expected:
            return replace(
                report,
                first_bad_id=prev_id + 1,
                missing_from_id=prev_id + 1,
                missing_through_id=anchor.id - 1,
                missing_count=expected - held,
                reason=(
                    f"{expected - held} of the {expected} entries checkpoint "
                    f"{checkpoint.sequence} recorded after id {prev_id} through id {anchor.id} "
                    "are missing (the rest was re-chained)"
                ),
            )
        if held > expected:
            return replace(
                report,
                first_bad_id=prev_id + 1,
                reason=(
                    f"{held - expected} entries appeared after id {prev_id} through id "
                    f"{anchor.id} that checkpoint {checkpoint.sequence} did not record"
                ),
            )
        if hashes[anchor.id] != anchor.hash:
            return replace(
                report,
                first_bad_id=anchor.id,
                rewritten_after_id=prev_id,
                rewritten_through_id=anchor.id,
                reason=(
                    f"entry content rewritten at or before id {anchor.id}, after id {prev_id} "
                    f"(checkpoint {checkpoint.sequence} recorded another hash for {anchor.id})"
                ),
            )
        prev_id, prev_n = anchor.id, anchor.n
    return report


async def _missing_tail(
    session: AsyncSession,
    report: ChainReport,
    points: list[tuple[Checkpoint, Anchor]],
    index: int,
    counts: dict[int, int],
    prev_id: int,
    prev_n: int,
) -> ChainReport:
    """A vouched-for entry is gone: the missing run starts after the last entry still held
    before it and runs through the last vouched-for entry that is gone in a row."""
    _, anchor = points[index]
    last_held = await session.scalar(
        select(func.max(AuditEntry.id)).where(AuditEntry.id > prev_id, AuditEntry.id < anchor.id)
    )
    held = counts.get(index, 0)
    end = index
    while end + 1 < len(points) and counts.get(end + 1, 0) == 0:
        end += 1
    checkpoint, last = points[end]
    start = (last_held or prev_id) + 1
    # At least the vouched-for entry itself, even where others were slipped in beside it.
    count = max(last.n - prev_n - held, 1)
    return replace(
        report,
        first_bad_id=start,
        missing_from_id=start,
        missing_through_id=last.id,
        missing_count=count,
        reason=(
            f"entries {start}..{last.id} recorded by checkpoint {checkpoint.sequence} are "
            f"missing ({count} entries)"
        ),
    )
