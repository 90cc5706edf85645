"""Incremental verification: walk only the entries appended since the last verification.

A successful run records how far it verified in the signed marker (``audit.verified``). The next
run in ``incremental`` mode starts from it. Only the walk gets shorter; these checks still run:

- every checkpoint file's signature and the checkpoints' own chain (cheap: a few files), and
  the checkpoint the marker matched must still be there with the same SHA-256 (so removing or
  replacing the newest checkpoints is caught, which a bare trail cannot show);
- the verified head still holds its hash, the verified stretch still holds the number of
  entries it held (one count in PostgreSQL), and every anchor and head the checkpoints record
  in it still holds its hash (one indexed lookup);
- the walk from the verified head must link to its hash, and everything after it is held
  against the checkpoints' counts and anchors as a full run does.

What an incremental run cannot see is a row before the verified head whose content was edited
while its stored hash was left alone (or re-hashed within the stretch between two anchors with
the link at its end left broken): only recomputing those hashes shows that. ``full`` mode
walks everything; ``auto`` (the integrity job) is incremental unless the last full walk is
older than :data:`FULL_EVERY`, so such an edit is found within a week. A prefix check that fails
makes the run a full one, so a finding is located as precisely as a full run locates it.

A marker is written only after a run that found nothing, by a session with no writes of its
own (a marker must vouch for committed entries only), and only where the signing key is at
hand; without one, runs still use the marker others wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import BigInteger, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit.checkpoint_verify import ChainReport, compare_with_trail, vouched
from pd_prime_demo.audit.checkpoints import Anchor, Trail, read_trail
from pd_prime_demo.audit.models import AuditEntry
from pd_prime_demo.audit.rules import GENESIS_HASH
from pd_prime_demo.audit.verified import (
    VerifiedMarker,
    read_marker,
    signed_marker,
    write_marker,
)
from pd_prime_demo.audit.verify import walk_chain
from pd_prime_demo.audit.walk_segment import BATCH
from pd_prime_demo.core import clock
from pd_prime_demo.core.checkpoint_keys import (
    CheckpointKeyError,
    key_id,
    load_checkpoint_keys,
    signing_key,
)
from pd_prime_demo.core.config import Settings

VerifyMode = Literal["full", "incremental", "auto"]

# How old the last full walk may be before an ``auto`` run (the integrity job) walks everything
# again: an edit that left its row's hash alone, before the verified head, is found within this.
FULL_EVERY = timedelta(days=7)

_HASHES = select(AuditEntry.id, AuditEntry.hash).where(
    AuditEntry.id == func.any(bindparam("ids", type_=ARRAY(BigInteger)))
)
_COUNT = select(func.count()).where(
    AuditEntry.id > bindparam("after_id"), AuditEntry.id <= bindparam("through_id")
)


@dataclass(frozen=True, slots=True)
class _Base:
    """Where the retained chain starts: after the purged entries, linking to their last."""

    after_id: int
    prev_hash: str
    n: int


def _base(trail: Trail) -> _Base:
    purged = trail.purged
    return (
        _Base(purged.through_id, purged.last_hash, purged.count)
        if purged
        else _Base(0, GENESIS_HASH, 0)
    )


async def verify_incremental(
    session: AsyncSession,
    settings: Settings,
    *,
    mode: VerifyMode = "incremental",
    parallel: int = 1,
    batch_size: int = BATCH,
) -> ChainReport:
    """The chain checked against the checkpoints of ``settings``, walking from the signed
    verified marker on (``incremental``), from the start (``full``), or from the marker unless
    a full walk is due (``auto``); a run that finds nothing records its head in the marker."""
    keys = load_checkpoint_keys(settings)
    trail = read_trail(settings, keys)
    base = _base(trail)
    marker, marker_problem = None, None
    if mode != "full":
        found = read_marker(settings, keys)
        marker, marker_problem = found.marker, found.problem
    now = clock.now()
    if (
        marker is not None
        and mode == "auto"
        and (marker.last_full_at is None or now - marker.last_full_at >= FULL_EVERY)
    ):
        marker = None  # the weekly full walk is due
    checkpoint_problem = _against_trail(marker, trail) if marker is not None else None
    usable = (
        marker is not None
        and checkpoint_problem is None
        and trail.problem is None
        and marker.head.id > base.after_id
    )
    prefix_problem = (
        await _prefix_problem(session, marker, trail, base) if usable and marker else None
    )
    if marker is not None and usable and prefix_problem is None:
        walk = await walk_chain(
            session,
            after_id=marker.head.id,
            expected_prev=marker.head.hash,
            parallel=parallel,
            batch_size=batch_size,
        )
        report = await compare_with_trail(session, trail, walk, start=marker.head)
        report = replace(
            report,
            entries_checked=marker.head.n - base.n + walk.entries_checked,
            mode="incremental",
            entries_walked=walk.count,
            walked_after_id=marker.head.id,
            previously_verified_at=marker.verified_at,
        )
        head_n, last_full_at = marker.head.n + walk.entries_checked, marker.last_full_at
    else:
        walk = await walk_chain(
            session,
            after_id=base.after_id,
            expected_prev=base.prev_hash,
            parallel=parallel,
            batch_size=batch_size,
        )
        report = await compare_with_trail(session, trail, walk)
        report = replace(
            report,
            mode="full",
            entries_walked=walk.count,
            walked_after_id=base.after_id,
            previously_verified_at=marker.verified_at if marker else None,
            marker_problem=marker_problem,
        )
        if checkpoint_problem is not None and report.checkpoint_problem is None:
            report = replace(report, checkpoint_problem=checkpoint_problem)
        if prefix_problem is not None and marker is not None and report.reason is None:
            report = _marker_finding(report, marker, trail, base, prefix_problem)
        head_n, last_full_at = base.n + walk.entries_checked, now
    if report.ok and walk.last_id > base.after_id and walk.last_hash is not None:
        head = Anchor(walk.last_id, walk.last_hash, head_n)
        written = await _record(session, settings, trail, head, report.mode, last_full_at)
        report = replace(report, marker_written=written)
    return report


def _against_trail(marker: VerifiedMarker, trail: Trail) -> str | None:
    """What the checkpoint trail lost since the marker's run: the checkpoint it matched must
    still be there, byte for byte (the checkpoints chain, so every one before it is too)."""
    sequence = marker.checkpoint_sequence
    if sequence is None:
        return None
    when = marker.verified_at.isoformat(timespec="seconds")
    if len(trail.file_sha256) < sequence:
        if trail.problem is not None:
            return None  # the trail's own problem says what is wrong with it
        return (
            f"checkpoint {sequence}, verified on {when}, is gone: the directory holds "
            f"{len(trail.file_sha256)} checkpoints (the newest were removed)"
        )
    if trail.file_sha256[sequence - 1] != marker.checkpoint_sha256:
        return f"checkpoint {sequence} was replaced since it was verified on {when}"
    return None


async def _prefix_problem(
    session: AsyncSession, marker: VerifiedMarker, trail: Trail, base: _Base
) -> str | None:
    """Whether the stretch the marker vouches for still holds what it held (``None``: yes)."""
    when = marker.verified_at.isoformat(timespec="seconds")
    head = marker.head
    inside = [a for _, a in vouched(trail, base.after_id) if a.id < head.id]
    held = {
        int(i): str(h)
        for i, h in await session.execute(_HASHES, {"ids": [head.id, *(a.id for a in inside)]})
    }
    if head.id not in held:
        return f"entry {head.id}, the head verified on {when}, is gone"
    if held[head.id] != head.hash:
        return f"entry {head.id} no longer holds the hash it had when verified on {when}"
    for anchor in inside:
        if held.get(anchor.id) != anchor.hash:
            return f"entry {anchor.id}, which a checkpoint vouches for, changed or is gone"
    count = int(
        await session.scalar(_COUNT, {"after_id": base.after_id, "through_id": head.id}) or 0
    )
    if count != head.n - base.n:
        return (
            f"the chain through entry {head.id} held {head.n - base.n} entries when verified "
            f"on {when} and holds {count} now"
        )
    return None


def _marker_finding(
    report: ChainReport, marker: VerifiedMarker, trail: Trail, base: _Base, problem: str
) -> ChainReport:
    """The marker saw what the full walk and the checkpoints could not: the entries after the
    newest checkpoint were changed and re-chained (no checkpoint vouches for them yet)."""
    ids = [a.id for _, a in vouched(trail, base.after_id) if a.id <= marker.head.id]
    after = max(ids, default=base.after_id)
    return replace(
        report,
        first_bad_id=after + 1,
        rewritten_after_id=after,
        rewritten_through_id=marker.head.id,
        reason=f"{problem} (after id {after}, which the checkpoints vouch for)",
    )


async def _record(
    session: AsyncSession,
    settings: Settings,
    trail: Trail,
    head: Anchor,
    mode: str,
    last_full_at: datetime | None,
) -> bool:
    """Write the marker of a run that found nothing; ``False`` where none may be written."""
    own_writes = await session.scalar(text("SELECT pg_current_xact_id_if_assigned() IS NOT NULL"))
    if own_writes:
        return False  # uncommitted entries of this transaction may yet roll back
    try:
        key = signing_key(settings)
    except CheckpointKeyError:
        return False
    if key is None:
        return False
    latest = trail.latest
    marker = VerifiedMarker(
        head=head,
        checkpoint_sequence=latest.sequence if latest else None,
        checkpoint_sha256=trail.last_sha256 if latest else None,
        verified_at=clock.now(),
        full=mode == "full",
        last_full_at=last_full_at,
        key_id=key_id(key.public_key()),
    )
    write_marker(settings, signed_marker(marker, key))
    return True
