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

from pd_prime_demo.audit.models import AuditEntry
from pd_prime_demo.audit.rules import GENESIS_HASH, ChainFields, HashedForm, entry_hash
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.at_commit import AtCommit, at_real_commit
from pd_prime_demo.core.logging import request_id_var
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Result
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


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries_checked: int
    first_bad_id: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


async def verify_chain(session: AsyncSession, *, batch_size: int = 5000) -> ChainReport:
    """Recompute every hash in id order; name the first entry that does not fit the chain."""
    expected_prev = GENESIS_HASH
    checked = 0
    last_id = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.id > last_id)
                .order_by(AuditEntry.id)
                .limit(batch_size)
                .execution_options(populate_existing=True)
            )
        ).all()
        if not rows:
            return ChainReport(checked, None, None)
        for row in rows:
            if row.prev_hash != expected_prev:
                return ChainReport(
                    checked, row.id, "previous-hash link broken (an entry was removed or reordered)"
                )
            fields = ChainFields(
                occurred_at=row.occurred_at,
                actor_kind=row.actor_kind,
                actor_id=row.actor_id,
                actor_role=row.actor_role,
                action=row.action,
                resource_type=row.resource_type,
                resource_id=row.resource_id,
                request_id=row.request_id,
                changes=row.changes,
            )
            if entry_hash(row.prev_hash, fields) != row.hash:
                return ChainReport(checked, row.id, "content does not match its hash")
            expected_prev = row.hash
            checked += 1
            last_id = row.id


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
