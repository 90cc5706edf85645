"""Writing and verifying the audit chain.

Every state change calls :func:`record` inside its own transaction. Entries are serialised by a
transaction-scoped advisory lock so the chain is a single line even with many writers; the
lock is held until commit, which is the price of a chain that proves order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from beartype import beartype
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit.models import AuditEntry
from pd_prime_demo.audit.rules import GENESIS_HASH, ChainFields, entry_hash
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.logging import request_id_var
from pd_prime_demo.core.telemetry import AUDIT_ENTRIES

# pg_advisory_xact_lock key reserved for the audit chain ("PDAUDIT" as a number).
AUDIT_CHAIN_LOCK = 0x5044415544495400

ChangeSummary = dict[str, Any]


@beartype
async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    resource_type: str,
    resource_id: str,
    changes: ChangeSummary | None = None,
) -> AuditEntry:
    """Append one entry. ``changes`` must hold ids and field names, never PII values."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_CHAIN_LOCK})
    prev = await session.scalar(select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1))
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
    prev_hash = prev or GENESIS_HASH
    entry = AuditEntry(
        occurred_at=fields.occurred_at,
        actor_kind=fields.actor_kind,
        actor_id=fields.actor_id,
        actor_role=fields.actor_role,
        action=fields.action,
        resource_type=fields.resource_type,
        resource_id=fields.resource_id,
        request_id=fields.request_id,
        changes=fields.changes,
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, fields),
    )
    session.add(entry)
    await session.flush()
    AUDIT_ENTRIES.labels(action=action).inc()
    return entry


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
    before_id: int | None,
    limit: int,
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if resource_type is not None:
        query = query.where(AuditEntry.resource_type == resource_type)
    if resource_id is not None:
        query = query.where(AuditEntry.resource_id == resource_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list((await session.scalars(query)).all())


async def count_entries(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
