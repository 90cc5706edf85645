"""One stretch of the audit chain walked from raw rows (used by audit.verify).

:func:`canonical_hash` renders the same canonical JSON as :func:`audit.rules.entry_hash`
without building the intermediate dicts: the keys of an entry are fixed, so their sorted order
is written out once below, and each value goes through the same encoder ``json.dumps`` uses
(tests/unit/test_audit_walk_canonical.py proves the bytes identical with hypothesis).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

LINK_BROKEN = "previous-hash link broken (an entry was removed or reordered)"
CONTENT_CHANGED = "content does not match its hash"

# Rows per round trip: large enough that the round trip is noise, small enough that the batch
# read ahead (see walk_segment) mostly fits the socket's buffers while the last is hashed.
BATCH = 5_000

# The same encoder json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=True)
# builds on every call (audit.rules._canonical), made once.
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
_string = json.encoder.encode_basestring_ascii


def _opt(value: str | None) -> str:
    return "null" if value is None else str(_string(value))


def canonical_hash(
    prev_hash: str,
    occurred_at: datetime,
    actor_kind: str,
    actor_id: str,
    actor_role: str | None,
    action: str,
    resource_type: str,
    resource_id: str,
    request_id: str | None,
    changes: Any,
) -> str:
    """``audit.rules.entry_hash`` of these fields, byte for byte."""
    # Keys in Python's sorted order: action < actor_id < actor_kind < actor_role < changes <
    # occurred_at < prev_hash < request_id < resource_id < resource_type.
    document = "".join(
        (
            '{"action":', _string(action),
            ',"actor_id":', _string(actor_id),
            ',"actor_kind":', _string(actor_kind),
            ',"actor_role":', _opt(actor_role),
            ',"changes":', _encode(changes),
            ',"occurred_at":', _string(
                occurred_at.astimezone(UTC).isoformat(timespec="microseconds")
            ),
            ',"prev_hash":', _string(prev_hash),
            ',"request_id":', _opt(request_id),
            ',"resource_id":', _string(resource_id),
            ',"resource_type":', _string(resource_type),
            "}",
        )
    )  # fmt: skip
    return hashlib.sha256(document.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class Segment:
    """The entries with ``after_id < id <= through_id``, and the anchor ids among them."""

    after_id: int
    through_id: int
    anchor_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SegmentWalk:
    """A segment walked on its own: its first entry's link is left to the caller to stitch;
    ``last_id``/``last_hash`` are the last entry that fit (``None``: none did)."""

    first_id: int | None
    first_prev_hash: str | None
    last_id: int | None
    last_hash: str | None
    entries_checked: int
    first_bad_id: int | None
    reason: str | None
    count: int
    hashes_at: dict[int, str] = field(default_factory=dict)


# ``changes::text`` and json.loads here, not asyncpg's codec: the text is what SQLAlchemy's
# JSONB type decodes for the ORM (jsonb's binary send form is that text after a version
# byte), so both paths hash the same values.
_ROWS = """
SELECT id, occurred_at, actor_kind, actor_id, actor_role, action, resource_type, resource_id,
       request_id, changes::text, prev_hash, hash
FROM audit_log WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3
"""


async def walk_segment(
    conn: asyncpg.Connection, segment: Segment, *, batch_size: int = BATCH
) -> SegmentWalk:
    """Walk ``segment`` on ``conn`` (inside the caller's transaction): every entry must link
    to the one before it and hash to its stored hash; the first entry's own link is not
    checked. Reading goes on past a bad entry only to count the rest."""
    anchors = frozenset(segment.anchor_ids)
    hashes: dict[int, str] = {}
    loads = json.loads
    first_id: int | None = None
    first_prev: str | None = None
    last_id: int | None = None
    last_hash: str | None = None
    checked = count = 0
    bad_id: int | None = None
    reason: str | None = None
    statement = await conn.prepare(_ROWS)
    # The next batch is asked for before this one is hashed: the server reads it while the
    # client hashes, so the walk takes the longer of the two, not their sum.
    pending = asyncio.ensure_future(
        statement.fetch(segment.after_id, segment.through_id, batch_size)
    )
    try:
        while True:
            rows = await pending
            if not rows:
                break
            pending = asyncio.ensure_future(
                statement.fetch(rows[-1][0], segment.through_id, batch_size)
            )
            await asyncio.sleep(0)  # let the request go out before the CPU-bound loop below
            count += len(rows)
            if bad_id is not None:
                continue
            if first_id is None:
                first_id, first_prev = rows[0][0], rows[0][10]
                last_hash = first_prev
            for row in rows:
                (
                    entry_id,
                    at,
                    kind,
                    actor,
                    role,
                    action,
                    rtype,
                    rid,
                    req,
                    changes,
                    prev,
                    digest,
                ) = row
                if last_id is not None and prev != last_hash:
                    bad_id, reason = entry_id, LINK_BROKEN
                    break
                computed = canonical_hash(
                    prev, at, kind, actor, role, action, rtype, rid, req, loads(changes)
                )
                if computed != digest:
                    bad_id, reason = entry_id, CONTENT_CHANGED
                    break
                if entry_id in anchors:
                    hashes[entry_id] = digest
                last_id, last_hash = entry_id, digest
                checked += 1
    finally:
        # Only on an error inside the loop is a request still out: cancel it so the
        # connection is free again.
        if not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending
    return SegmentWalk(
        first_id,
        first_prev,
        last_id,
        last_hash if last_id is not None else None,
        checked,
        bad_id,
        reason,
        count,
        hashes,
    )


async def walk_on_snapshot(
    dsn: str, snapshot: str, segment: Segment, batch_size: int = BATCH
) -> SegmentWalk:
    """Walk ``segment`` on a connection of its own that reads the snapshot the caller exported,
    so that every segment sees the same committed chain."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute(f"SET TRANSACTION SNAPSHOT '{_snapshot_id(snapshot)}'")
            return await walk_segment(conn, segment, batch_size=batch_size)
    finally:
        await conn.close()


def main() -> None:
    """A worker process (started by audit.verify): one job as JSON on stdin — the DSN travels
    there, not in argv, where any local user could read it — and the walk as JSON on stdout."""
    job = json.load(sys.stdin)
    segment = Segment(job["after_id"], job["through_id"], tuple(job["anchor_ids"]))
    walk = asyncio.run(
        walk_on_snapshot(job["dsn"], job["snapshot"], segment, int(job["batch_size"]))
    )
    result = asdict(walk)
    result["hashes_at"] = [[k, v] for k, v in walk.hashes_at.items()]
    json.dump(result, sys.stdout)


def from_json(document: dict[str, Any]) -> SegmentWalk:
    hashes = {int(k): str(v) for k, v in document.pop("hashes_at")}
    return SegmentWalk(**document, hashes_at=hashes)


def _snapshot_id(snapshot: str) -> str:
    # SET TRANSACTION SNAPSHOT takes no bind parameter; the id comes from pg_export_snapshot()
    # (hex digits and dashes), checked so nothing else can reach the statement.
    if not snapshot or any(c not in "0123456789ABCDEFabcdef-" for c in snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    return snapshot


if __name__ == "__main__":
    main()
