"""Walking the audit chain fast: raw rows, a byte-identical canonicaliser, segments in parallel.

The chain is verified by recomputing every entry's hash in id order (audit.rules). The ORM
loop this replaces spent most of its time building AuditEntry objects; here rows come straight
from asyncpg in keyset batches and are hashed by :mod:`audit.walk_segment`. With
``parallel > 1`` the id range is cut into segments walked by worker processes (hashing is
CPU-bound and holds the GIL), each on its own connection reading the caller's snapshot, and
the segments are stitched: segment k's first ``prev_hash`` must be segment k-1's last hash.
The result is the same whatever ``parallel`` is (tests/integration/test_audit_walk.py).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg
from sqlalchemy import Engine, text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit.rules import GENESIS_HASH
from pd_prime_demo.audit.walk_segment import (
    BATCH,
    LINK_BROKEN,
    Segment,
    SegmentWalk,
    from_json,
    walk_segment,
)


@dataclass(frozen=True, slots=True)
class ChainWalk:
    """What walking ``(after_id, through_id]`` found.

    ``entries_checked`` entries fit the chain before ``first_bad_id`` (``None``: all fit);
    ``last_id``/``last_hash`` are the last entry that fit (``after_id``/``expected_prev`` when
    none did); ``first_id``/``first_prev_hash`` the first entry of the range as stored (what
    a caller that passed ``expected_prev=None`` must check itself); ``hashes_at`` the stored
    hash of each requested anchor id that was verified; ``count`` every entry the range holds,
    fitting or not (to compare with a checkpoint's count).
    """

    entries_checked: int
    first_bad_id: int | None
    reason: str | None
    first_id: int | None
    first_prev_hash: str | None
    last_id: int
    last_hash: str | None
    hashes_at: dict[int, str]
    count: int

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


_RANGE = text(
    "SELECT min(id), max(id) FROM audit_log WHERE id > :after_id "
    "AND (CAST(:through_id AS bigint) IS NULL OR id <= :through_id)"
)


async def walk_chain(
    session: AsyncSession,
    *,
    after_id: int = 0,
    expected_prev: str | None = GENESIS_HASH,
    through_id: int | None = None,
    anchor_ids: Iterable[int] = (),
    parallel: int = 1,
    min_segment: int = 10_000,
    batch_size: int = BATCH,
) -> ChainWalk:
    """Recompute every hash of the entries after ``after_id`` through ``through_id`` (all when
    ``None``) in id order, each linking to the one before; ``expected_prev`` is what the first
    must link to (``None``: whatever it names). ``parallel`` processes walk segments of at
    least ``min_segment`` ids each (below that, starting a process costs more than it saves)."""
    anchors = frozenset(anchor_ids)
    connection = await session.connection()
    lo, hi = (
        await connection.execute(_RANGE, {"after_id": after_id, "through_id": through_id})
    ).one()
    if lo is None:
        return ChainWalk(0, None, None, None, None, after_id, expected_prev, {}, 0)
    raw = (await connection.get_raw_connection()).driver_connection
    assert isinstance(raw, asyncpg.Connection)
    segments = _segments(int(lo) - 1, int(hi), max(1, parallel), max(1, min_segment), anchors)
    if len(segments) == 1 or await _has_own_writes(session):
        # The caller's own uncommitted entries are visible to this connection only: walk them
        # here (a separate connection, even on the exported snapshot, would not see them).
        walks = [
            await walk_segment(
                raw, Segment(after_id, int(hi), tuple(sorted(anchors))), batch_size=batch_size
            )
        ]
    else:
        snapshot = str((await connection.execute(text("SELECT pg_export_snapshot()"))).scalar())
        walks = await _walk_in_processes(_dsn(session), snapshot, segments, batch_size)
    return stitch(walks, after_id=after_id, expected_prev=expected_prev)


def _segments(
    after_id: int, through_id: int, parallel: int, min_segment: int, anchors: frozenset[int]
) -> list[Segment]:
    # One segment a process, of equal id ranges: audit entries are alike in size and ids have
    # few gaps (rolled-back appends), so equal ranges are close to equal work.
    span = through_id - after_id
    pieces = max(1, min(parallel, span // min_segment))
    bounds = [after_id + span * k // pieces for k in range(pieces)] + [through_id]
    return [
        Segment(a, b, tuple(sorted(i for i in anchors if a < i <= b)))
        for a, b in itertools.pairwise(bounds)
    ]


def stitch(walks: Sequence[SegmentWalk], *, after_id: int, expected_prev: str | None) -> ChainWalk:
    """Join consecutive segment walks as if the whole range had been walked in one loop."""
    checked = 0
    count = sum(w.count for w in walks)
    hashes: dict[int, str] = {}
    last_id, last_hash = after_id, expected_prev
    present = [w for w in walks if w.count]
    first_id = present[0].first_id if present else None
    first_prev = present[0].first_prev_hash if present else None
    for walk in present:
        if last_hash is not None and walk.first_prev_hash != last_hash:
            return ChainWalk(
                checked, walk.first_id, LINK_BROKEN, first_id,
                first_prev, last_id, last_hash, hashes, count,
            )  # fmt: skip
        checked += walk.entries_checked
        hashes.update(walk.hashes_at)
        if walk.first_bad_id is not None:
            return ChainWalk(
                checked, walk.first_bad_id, walk.reason, first_id,
                first_prev, walk.last_id or last_id,
                walk.last_hash or last_hash, hashes, count,
            )  # fmt: skip
        last_id, last_hash = walk.last_id or last_id, walk.last_hash
    return ChainWalk(
        checked, None, None, first_id, first_prev,
        last_id, last_hash, hashes, count,
    )  # fmt: skip


async def _has_own_writes(session: AsyncSession) -> bool:
    # A transaction is given an id at its first write; none means nothing of its own to see.
    return (
        await session.scalar(text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL"))
    ) is True


def _dsn(session: AsyncSession) -> str:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    url = engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def _walk_in_processes(
    dsn: str, snapshot: str, segments: list[Segment], batch_size: int
) -> list[SegmentWalk]:
    # Fresh interpreters running only audit.walk_segment (a third of a second to start), not
    # multiprocessing: its spawn re-imports the parent's __main__ (the whole CLI and app) in
    # every worker, and a fork would copy the parent's event loop and open connections.
    jobs = (_walk_in_process(dsn, snapshot, s, batch_size) for s in segments)
    return list(await asyncio.gather(*jobs))


async def _walk_in_process(
    dsn: str, snapshot: str, segment: Segment, batch_size: int
) -> SegmentWalk:
    job = json.dumps(
        {
            "dsn": dsn,
            "snapshot": snapshot,
            "after_id": segment.after_id,
            "through_id": segment.through_id,
            "anchor_ids": list(segment.anchor_ids),
            "batch_size": batch_size,
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pd_prime_demo.audit.walk_segment",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate(job.encode())
    if process.returncode != 0:
        raise RuntimeError(f"audit chain walker failed: {err.decode(errors='replace')[-2000:]}")
    return from_json(json.loads(out))
