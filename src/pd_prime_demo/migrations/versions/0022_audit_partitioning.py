"""audit_log partitioned by month of occurred_at (owner: audit partitions)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 06:00:00.000000

The table is rebuilt as ``PARTITION BY RANGE (occurred_at)``: one partition a month
(``audit_log_yYYYYmMM``) for every month that holds entries and the configured months ahead, and
a DEFAULT partition so an append never fails for want of a partition (audit.partitions moves its
rows out when their month's partition is created). Rows are copied in id order with their ids,
so the chain (id order) and every hash are unchanged; the identity continues after the max id.

Keys: a primary key or unique index on a partitioned table must contain the partition key, so
the primary key becomes (id, occurred_at) — ids still come from one sequence under the chain's
advisory lock, so they stay unique. The unique index on ``hash`` becomes a plain index: a unique
(hash, occurred_at) would not say what the old one did, and a duplicate hash is not a threat the
index ever guarded against — each hash covers its predecessor's, so a repeated one would be a
SHA-256 collision; verification (audit.verify) is what catches a forged entry.

Identity: PostgreSQL 15 and 16 accept an identity column on a partitioned table (inserts go
through the parent, which is how audit_chain_append writes); 17 only adds inserting through a
partition directly, which nothing does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from alembic import op

from pd_prime_demo.core.config_audit import AuditSettings

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "id, occurred_at, actor_kind, actor_id, actor_role, action, resource_type, resource_id, "
    "request_id, changes, prev_hash, hash"
)


def _table(name: str, *, partitioned: bool) -> str:
    key = "id, occurred_at" if partitioned else "id"
    tail = " PARTITION BY RANGE (occurred_at)" if partitioned else ""
    return f"""
    CREATE TABLE {name} (
        id BIGINT GENERATED ALWAYS AS IDENTITY,
        occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
        actor_kind VARCHAR(16) NOT NULL,
        actor_id VARCHAR(100) NOT NULL,
        actor_role VARCHAR(32),
        action VARCHAR(100) NOT NULL,
        resource_type VARCHAR(50) NOT NULL,
        resource_id VARCHAR(100) NOT NULL,
        request_id VARCHAR(100),
        changes JSONB NOT NULL,
        prev_hash VARCHAR(64) NOT NULL,
        hash VARCHAR(64) NOT NULL,
        CONSTRAINT pk_audit_log PRIMARY KEY ({key})
    ){tail}
    """


# Partitions in a schema of their own (see audit.partitions.SCHEMA).
DEFAULT_PARTITION = "audit_partitions.audit_log_default"


# Frozen here rather than imported from audit.partitions (which does the same at run time): a
# migration must keep doing what it did when it shipped.
def _next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def _create_partition(month: date) -> None:
    name = f"audit_log_y{month.year:04d}m{month.month:02d}"
    op.execute(
        f"CREATE TABLE audit_partitions.{name} PARTITION OF audit_log "
        f"FOR VALUES FROM ('{month.isoformat()} 00:00:00+00') "
        f"TO ('{_next_month(month).isoformat()} 00:00:00+00')"
    )
    op.execute(
        f"CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_partitions.{name} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_immutable()"
    )


# Row-level triggers on a partitioned table are cloned to every partition, present and future
# (PostgreSQL 13+); the TRUNCATE one is statement-level, so each partition also gets its own
# (as audit.partitions does for the partitions it creates later).
TRIGGERS = (
    "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_immutable()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_immutable()",
)


def _copy_and_continue(source: str) -> None:
    op.execute(
        f"INSERT INTO audit_log ({COLUMNS}) OVERRIDING SYSTEM VALUE "  # noqa: S608 - constants
        f"SELECT {COLUMNS} FROM {source} ORDER BY id"
    )
    # The next append gets max(id) + 1: the chain goes on in id order after the copied rows.
    op.execute(
        "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), max(id)) FROM audit_log "
        "HAVING max(id) IS NOT NULL"
    )


def _months_held() -> list[date]:
    bind = op.get_bind()
    rows = bind.exec_driver_sql(
        "SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC')::date "
        "FROM audit_log_unpartitioned"
    ).all()
    months = {row[0] for row in rows}
    month = datetime.now(UTC).date().replace(day=1)
    ahead = AuditSettings.model_fields["audit_partition_months_ahead"].default
    for _ in range(ahead + 1):
        months.add(month)
        month = _next_month(month)
    return sorted(months)


def upgrade() -> None:
    op.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
    op.execute("ALTER TABLE audit_log RENAME TO audit_log_unpartitioned")
    op.execute(
        "ALTER TABLE audit_log_unpartitioned RENAME CONSTRAINT pk_audit_log TO pk_audit_log_old"
    )
    op.execute("ALTER INDEX ix_audit_log_resource RENAME TO ix_audit_log_resource_old")
    op.execute("CREATE SCHEMA audit_partitions")
    op.execute(_table("audit_log", partitioned=True))
    for month in _months_held():
        _create_partition(month)
    op.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF audit_log DEFAULT")
    op.execute(
        f"CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON {DEFAULT_PARTITION} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_immutable()"
    )
    # Indexes after the copy: one sorted build per partition instead of row-by-row upkeep.
    _copy_and_continue("audit_log_unpartitioned")
    op.execute("CREATE INDEX ix_audit_log_resource ON audit_log (resource_type, resource_id)")
    op.execute("CREATE INDEX ix_audit_log_hash ON audit_log (hash)")
    for statement in TRIGGERS:
        op.execute(statement)
    # DROP is not blocked by the row and TRUNCATE triggers (they die with the table).
    op.execute("DROP TABLE audit_log_unpartitioned")


def downgrade() -> None:
    op.execute("LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE")
    op.execute("ALTER TABLE audit_log RENAME TO audit_log_partitioned")
    op.execute(
        "ALTER TABLE audit_log_partitioned RENAME CONSTRAINT pk_audit_log TO pk_audit_log_old"
    )
    op.execute("ALTER INDEX ix_audit_log_resource RENAME TO ix_audit_log_resource_old")
    op.execute(_table("audit_log", partitioned=False))
    op.execute("ALTER TABLE audit_log ADD CONSTRAINT uq_audit_log_hash UNIQUE (hash)")
    _copy_and_continue("audit_log_partitioned")
    op.execute("CREATE INDEX ix_audit_log_resource ON audit_log (resource_type, resource_id)")
    for statement in TRIGGERS:
        op.execute(statement)
    op.execute("DROP TABLE audit_log_partitioned")  # and its partitions
    op.execute("DROP SCHEMA audit_partitions")
