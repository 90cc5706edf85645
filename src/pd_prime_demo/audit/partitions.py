"""audit_log's monthly partitions: created ahead, listed for retention, dropped whole.

audit_log is partitioned by RANGE (occurred_at), one partition a month named
``audit_log_yYYYYmMM`` plus a DEFAULT partition (migration 0022), so that retention drops a
month as one catalog operation instead of deleting rows through the append-only triggers, and
verification reads partitions as separate tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, text
from sqlalchemy.ext.asyncio import AsyncSession

# The partitions live in a schema of their own: they are storage of the one table the models
# describe (audit_log, in public), kept out of the public namespace and out of the schema
# comparison of ``alembic check`` (which reads the default schema only).
SCHEMA = "audit_partitions"
DEFAULT_PARTITION = "audit_log_default"
_NAME = re.compile(r"^audit_log_y(\d{4})m(\d{2})$")

# The statement-level TRUNCATE trigger of the parent is not cloned to partitions (PostgreSQL
# clones row-level triggers only), and TRUNCATE of a partition does not fire the parent's: each
# partition gets its own, so no partition of the log can be emptied either (migration 0001's
# rule, AICPA TSC CC7.2/PI1.5: the record of processing is kept intact).
_TRUNCATE_TRIGGER = (
    'CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_partitions."{name}" '
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_immutable()"
)


_COLUMNS = (
    "id, occurred_at, actor_kind, actor_id, actor_role, action, resource_type, resource_id, "
    "request_id, changes, prev_hash, hash"
)


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def partition_name(month: date) -> str:
    return f"audit_log_y{month.year:04d}m{month.month:02d}"


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def create_partition_sql(month: date) -> list[str]:
    """The statements creating ``month``'s partition (shared with migration 0022)."""
    name = partition_name(month)
    return [
        f'CREATE TABLE {SCHEMA}."{name}" PARTITION OF audit_log '
        f"FOR VALUES FROM ('{month.isoformat()} 00:00:00+00') "
        f"TO ('{next_month(month).isoformat()} 00:00:00+00')",
        _TRUNCATE_TRIGGER.format(name=name),
    ]


@dataclass(frozen=True, slots=True)
class PartitionInfo:
    """One monthly partition, as retention needs it: its range ``[range_from, range_to)``, the
    ids it holds and the hashes at its two ends (its first entry's link to the partition
    before, and what the next partition's first entry links to)."""

    name: str
    range_from: date
    range_to: date
    min_id: int | None
    max_id: int | None
    rows: int
    last_hash: str | None
    first_prev_hash: str | None


_MONTHLY = text(
    """
    SELECT c.relname FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'audit_partitions'
    WHERE i.inhparent = 'public.audit_log'::regclass
      AND c.relname ~ '^audit_log_y[0-9]{4}m[0-9]{2}$'
    ORDER BY c.relname
    """
)


async def monthly_partitions(session: AsyncSession) -> list[str]:
    return [str(name) for name in await session.scalars(_MONTHLY)]


async def ensure_partitions(session: AsyncSession, *, today: date, months_ahead: int) -> list[str]:
    """Create the partitions of this month and ``months_ahead`` after it that do not exist yet;
    return the names created. Rows that landed in the DEFAULT partition for one of those months
    (written while its partition was missing) are moved into it: PostgreSQL refuses to create a
    partition whose range has rows in the default."""
    existing = set(await monthly_partitions(session))
    months, month = [], month_start(today)
    for _ in range(months_ahead + 1):
        if partition_name(month) not in existing:
            months.append(month)
        month = next_month(month)
    if not months:
        return []
    # The default partition holds only rows no monthly partition covered: few or none.
    stranded = await session.scalar(
        text(
            f"SELECT count(*) FROM {SCHEMA}.{DEFAULT_PARTITION} "  # noqa: S608 - a constant name
            "WHERE occurred_at >= :start AND occurred_at < :end"
        ),
        {"start": _utc_midnight(months[0]), "end": _utc_midnight(next_month(months[-1]))},
    )
    if stranded:
        await _rehome_default(session, months)
    else:
        for m in months:
            for statement in create_partition_sql(m):
                await session.execute(text(statement))
    return [partition_name(m) for m in months]


async def _rehome_default(session: AsyncSession, months: list[date]) -> None:
    """Create ``months``' partitions while the default holds rows of them: detach the default
    (detaching drops its cloned row triggers, so it becomes an ordinary table), create the
    partitions and a new empty default, re-insert the old default's rows through the parent
    (each lands in its month, with its id, hash and place in the chain unchanged), check
    every row arrived, and drop the detached table. One transaction: all of it or none."""
    stale = f"{SCHEMA}.{DEFAULT_PARTITION}_moving"
    # ACCESS EXCLUSIVE on the parent for the duration: appends wait, none is lost or forked.
    await session.execute(text("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE"))
    await session.execute(
        text(f"ALTER TABLE audit_log DETACH PARTITION {SCHEMA}.{DEFAULT_PARTITION}")
    )
    await session.execute(
        text(f"ALTER TABLE {SCHEMA}.{DEFAULT_PARTITION} RENAME TO {DEFAULT_PARTITION}_moving")
    )
    for m in months:
        for statement in create_partition_sql(m):
            await session.execute(text(statement))
    await session.execute(
        text(f"CREATE TABLE {SCHEMA}.{DEFAULT_PARTITION} PARTITION OF audit_log DEFAULT")
    )
    await session.execute(text(_TRUNCATE_TRIGGER.format(name=DEFAULT_PARTITION)))
    # The stale table has no row-level immutability trigger anymore; it is dropped, not edited.
    result = await session.execute(
        text(
            f"INSERT INTO audit_log ({_COLUMNS}) OVERRIDING SYSTEM VALUE "  # noqa: S608 - constants
            f"SELECT {_COLUMNS} FROM {stale} ORDER BY id"
        )
    )
    moved = cast("CursorResult[Any]", result).rowcount
    held = await session.scalar(text(f"SELECT count(*) FROM {stale}"))  # noqa: S608 - a constant
    if moved != held:  # pragma: no cover - the INSERT either takes every row or raises
        raise RuntimeError(f"moved {moved} of {held} audit entries out of the default partition")
    await session.execute(text(f"DROP TABLE {stale}"))


async def expired_partitions(session: AsyncSession, *, before: date) -> list[PartitionInfo]:
    """The monthly partitions wholly before ``before``, oldest first, each with one aggregate
    over its own rows (the partition is read directly: no other month is scanned)."""
    found = []
    for name in await monthly_partitions(session):
        month = month_of(name)
        if next_month(month) > before:
            break
        # The name comes from the catalog and matched _NAME: safe to quote as an identifier.
        row = (
            await session.execute(
                text(
                    f"SELECT min(id), max(id), count(*), "  # noqa: S608 - a catalog name
                    f'(SELECT hash FROM {SCHEMA}."{name}" ORDER BY id DESC LIMIT 1), '
                    f'(SELECT prev_hash FROM {SCHEMA}."{name}" ORDER BY id LIMIT 1) '
                    f'FROM {SCHEMA}."{name}"'
                )
            )
        ).one()
        found.append(
            PartitionInfo(
                name=name,
                range_from=month,
                range_to=next_month(month),
                min_id=row[0],
                max_id=row[1],
                rows=int(row[2]),
                last_hash=row[3],
                first_prev_hash=row[4],
            )
        )
    return found


class UnknownPartitionError(ValueError):
    pass


async def drop_partition(session: AsyncSession, name: str) -> None:
    """Detach and drop one monthly partition of audit_log.

    No trigger bypass (session_replication_role, a superuser's) is needed or used: the
    immutability triggers guard rows against UPDATE, DELETE and TRUNCATE, while DETACH and DROP
    are DDL that only the table's owner (the migrating role) may run. Retention (audit.service)
    writes the signed retention checkpoint before calling this, so the rest of the chain still
    verifies from the dropped partition's last hash.
    """
    if not _NAME.match(name) or name not in set(await monthly_partitions(session)):
        raise UnknownPartitionError(f"{name!r} is not a monthly partition of audit_log")
    await session.execute(text(f'ALTER TABLE audit_log DETACH PARTITION {SCHEMA}."{name}"'))
    await session.execute(text(f'DROP TABLE {SCHEMA}."{name}"'))


def month_of(name: str) -> date:
    match = _NAME.match(name)
    if match is None:
        raise UnknownPartitionError(name)
    return date(int(match.group(1)), int(match.group(2)), 1)
