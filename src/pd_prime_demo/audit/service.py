"""Writing and verifying the audit chain.

Every state change calls :func:`record` inside its own transaction. The entry's content is fixed
then, but it joins the chain only when the transaction commits: a ``before_commit`` hook appends
all of the transaction's entries in one statement. A database function (migration 0005) takes a
transaction-scoped advisory lock, reads the chain's last hash, then hashes and inserts each entry
in turn. The lock is what makes the chain a single line with many writers; taking it at commit
rather than at the first entry keeps it held for that one statement and the commit, instead of
for the rest of the request (which serialised every writing request).

A transaction that rolls back drops its pending entries with everything else it did; so does a
savepoint (``begin_nested``) that rolls back, for the entries recorded inside it (see
``core.at_commit``).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as fields_of
from typing import Any

from beartype import beartype
from sqlalchemy import Connection, bindparam, event, func, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from pd_prime_demo.audit import checkpoints
from pd_prime_demo.audit.checkpoint_verify import ChainReport as ChainReport  # re-exported
from pd_prime_demo.audit.checkpoint_verify import compare_with_trail
from pd_prime_demo.audit.checkpoints import Checkpoint, read_trail
from pd_prime_demo.audit.incremental import VerifyMode as VerifyMode  # re-exported
from pd_prime_demo.audit.incremental import verify_incremental
from pd_prime_demo.audit.models import AuditEntry
from pd_prime_demo.audit.rules import GENESIS_HASH, ChainFields, HashedForm
from pd_prime_demo.audit.verify import ChainWalk as ChainWalk  # re-exported
from pd_prime_demo.audit.verify import walk_chain as walk_chain  # re-exported
from pd_prime_demo.audit.walk_segment import BATCH
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.at_commit import AtCommit, at_real_commit
from pd_prime_demo.core.checkpoint_keys import load_checkpoint_keys
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.logging import request_id_var
from pd_prime_demo.core.pagination import BAD_CURSOR, decode, encode, keyset_page
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result
from pd_prime_demo.core.telemetry import AUDIT_ENTRIES

# pg_advisory_xact_lock key reserved for the audit chain ("PDAUDIT" as a number).
AUDIT_CHAIN_LOCK = 0x5044415544495400
_PENDING: AtCommit[ChainFields] = AtCommit("pd_prime.audit.pending")

ChangeSummary = dict[str, Any]


@beartype
async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str,
    changes: ChangeSummary | None = None,
) -> None:
    """Record one entry, chained when ``session`` commits.

    ``changes`` must hold ids and field names, never PII values.
    """
    fields = ChainFields(
        occurred_at=clock.now(),
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        actor_role=actor.role.value if actor.role else None,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        request_id=request_id_var.get(),
        changes=changes or {},
    )
    _PENDING.add(session, fields)


async def write_pending(session: AsyncSession) -> list[int]:
    """Chain the entries recorded so far now, instead of at commit; returns their ids.

    From here until the transaction ends the chain's lock is held, so ordinary code leaves this
    to the commit hook; it exists for readers that need the entries inside the transaction.
    """
    return await session.run_sync(_write_pending)


def _write_pending(session: Session) -> list[int]:
    pending = _PENDING.take(session)
    return _append(session.connection(), pending) if pending else []


# The function inserts the entries in the order given, so the identity values, which
# verification walks, follow the chain; it returns them in that order.
_APPEND = select(func.audit_chain_append(AUDIT_CHAIN_LOCK, bindparam("entries", type_=JSONB)))


_CHAIN_FIELDS = fields_of(ChainFields)


def chain_entry(fields: ChainFields) -> dict[str, Any]:
    """One element of ``audit_chain_append``'s ``entries``: the content and its hashed form."""
    form = HashedForm.of(fields)
    return {
        # Not dataclasses.asdict: it deep-copies ``changes``, which is only read here.
        **{f.name: getattr(fields, f.name) for f in _CHAIN_FIELDS},
        "occurred_at": fields.occurred_at.isoformat(timespec="microseconds"),
        "hash_head": form.head,
        "hash_tail": form.tail,
    }


def _append(connection: Connection, pending: list[ChainFields]) -> list[int]:
    entries = [chain_entry(fields) for fields in pending]
    ids = list(connection.scalars(_APPEND, {"entries": entries}).all())
    for fields in pending:
        AUDIT_ENTRIES.labels(action=fields.action).inc()
    return ids


@event.listens_for(Session, "before_commit")
def _chain_on_commit(session: Session) -> None:
    # Runs inside the AsyncSession's greenlet, so the synchronous connection API is the async one.
    if at_real_commit(session):
        _write_pending(session)


async def verify_chain(
    session: AsyncSession,
    *,
    settings: Settings | None = None,
    mode: VerifyMode = "auto",
    parallel: int | None = None,
    batch_size: int = BATCH,
) -> ChainReport:
    """Recompute the hashes in id order and name the first entry that does not fit; with
    ``settings``, check the chain against every signed checkpoint too (a removed tail, a
    truncation and a rewrite with every later hash recomputed all fit a bare chain).

    With ``settings`` the walk starts from the signed verified marker (``audit.incremental``):
    ``incremental`` always, ``auto`` unless the last full walk is a week old, ``full`` never.
    ``parallel`` processes walk the chain (default ``audit_verify_parallel``), ``batch_size``
    rows a round trip (``audit.verify``).
    """
    if settings is None:
        walk = await walk_chain(session, parallel=parallel or 1, batch_size=batch_size)
        return ChainReport(
            walk.entries_checked,
            walk.first_bad_id,
            walk.reason,
            warning="checked as a bare hash chain: no checkpoints were consulted",
            entries_walked=walk.count,
            walked_after_id=0,
        )
    return await verify_incremental(
        session,
        settings,
        mode=mode,
        parallel=parallel or settings.audit_verify_parallel,
        batch_size=batch_size,
    )


async def verify_against_checkpoints(
    session: AsyncSession, settings: Settings, *, parallel: int = 1, batch_size: int = BATCH
) -> ChainReport:
    """The chain checked against the checkpoint files of ``settings`` (see
    ``audit.checkpoint_verify``): their signatures, their own chain, then every head and
    anchor they record against the database."""
    trail = read_trail(settings, load_checkpoint_keys(settings))
    purged = trail.purged
    walk = await walk_chain(
        session,
        after_id=purged.through_id if purged else 0,
        expected_prev=purged.last_hash if purged else GENESIS_HASH,
        parallel=parallel,
        batch_size=batch_size,
    )
    return await compare_with_trail(session, trail, walk)


async def list_entries(
    session: AsyncSession,
    *,
    resource_type: str | None,
    resource_id: str | None,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[AuditEntry], str | None], DomainError]:
    """A page of entries, newest first (keyset on the chain's own order)."""
    query = select(AuditEntry)
    if resource_type is not None:
        query = query.where(AuditEntry.resource_type == resource_type)
    if resource_id is not None:
        query = query.where(AuditEntry.resource_id == resource_id)
    return await keyset_page(
        session, query, cursor=cursor, limit=limit, keys=[AuditEntry.id], descending=True
    )


async def count_entries(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def latest_checkpoint(settings: Settings) -> Checkpoint | None:
    """The newest checkpoint whose signature and link to its predecessors verify."""
    return checkpoints.latest_checkpoint(settings)


@dataclass(frozen=True, slots=True)
class CheckpointListing:
    items: list[Checkpoint]
    next_cursor: str | None
    problem: str | None


def list_checkpoints(
    settings: Settings, *, cursor: str | None, limit: int
) -> Result[CheckpointListing, DomainError]:
    """A page of checkpoints, newest first: the files' names are listed, and only the page's
    files read and their signatures checked (``verify_chain`` checks their chain)."""
    before: int | None = None
    if cursor is not None:
        decoded = decode(cursor, [int])
        if decoded is None:
            return Err(BAD_CURSOR)
        before = int(decoded[0])
    keys = load_checkpoint_keys(settings)
    stored = checkpoints.stored_files(checkpoints.checkpoint_dir(settings))
    newest_first = [f for f in reversed(stored) if before is None or f.sequence < before]
    items: list[Checkpoint] = []
    for entry in newest_first[:limit]:
        try:
            items.append(checkpoints.parse_signed(entry.path.read_bytes(), keys))
        except checkpoints.CheckpointInvalidError as exc:
            return Ok(CheckpointListing(items, None, f"checkpoint {entry.sequence}: {exc}"))
    more = len(newest_first) > limit and items
    return Ok(CheckpointListing(items, encode([items[-1].sequence]) if more else None, None))
