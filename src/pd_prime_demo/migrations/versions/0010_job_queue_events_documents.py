"""the job queue, the published event sequence, documents rendered after commit

- procrastinate's schema (its jobs, periodic defers, workers and events), as shipped with the
  procrastinate release in the lock; an upgrade of procrastinate that changes its schema comes
  with a migration applying its own migration files.
- ``outbox_events.position``: the order in which the relay published committed events, gap
  free in commit order, which the event stream and live updates page by; ``customer_id``: whose
  business the event is, so that a reader sees only what it may (backfilled for policies and
  quotes, and documents after a round trip); the events written before are numbered as
  published, in the order they were written. A statement-level trigger wakes the relay when
  events commit.
- ``job_errors``: the last error of each failed job attempt, for the admin view.
- ``documents``: a page exists as soon as its record does (status pending), with the non-PII
  facts it prints; a job renders it after commit (ready) or records why it failed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 11:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from procrastinate.schema import SchemaManager
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run_script(sql: str) -> None:
    """A multi-statement script, sent as one simple query (asyncpg prepares single statements)."""

    async def run(conn: Any) -> None:
        await conn.execute(sql)

    op.get_bind().connection.dbapi_connection.run_async(run)  # type: ignore[union-attr]


_DROP_PROCRASTINATE = """
DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT tablename FROM pg_tables
             WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\\_%' LOOP
        EXECUTE format('DROP TABLE %I CASCADE', r.tablename);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS fn FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%' LOOP
        EXECUTE format('DROP FUNCTION %s CASCADE', r.fn);
    END LOOP;
    FOR r IN SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%'
               AND t.typtype IN ('e', 'c') LOOP
        EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', r.typname);
    END LOOP;
END $$;
"""


def upgrade() -> None:
    _run_script(SchemaManager.get_schema())
    # The admin view's dead letters, newest first, without reading every finished job.
    op.execute(
        "CREATE INDEX ix_procrastinate_jobs_failed ON procrastinate_jobs (id) "
        "WHERE status = 'failed'"
    )

    op.add_column("outbox_events", sa.Column("position", sa.BigInteger(), nullable=True))
    op.add_column("outbox_events", sa.Column("customer_id", sa.Uuid(), nullable=True))
    op.create_index(
        "ux_outbox_events_position",
        "outbox_events",
        ["position"],
        unique=True,
        postgresql_where=sa.text("position IS NOT NULL"),
    )
    op.create_index(
        "ix_outbox_events_customer_id_position",
        "outbox_events",
        ["customer_id", "position"],
        postgresql_where=sa.text("position IS NOT NULL"),
    )
    op.execute(
        "UPDATE outbox_events e SET customer_id = p.customer_id FROM policies p "
        "WHERE e.aggregate_type = 'policy' AND e.aggregate_id = p.id::text"
    )
    op.execute(
        "UPDATE outbox_events e SET customer_id = q.customer_id FROM quotes q "
        "WHERE e.aggregate_type = 'quote' AND e.aggregate_id = q.id::text"
    )
    op.execute(
        "UPDATE outbox_events e SET customer_id = p.customer_id FROM documents d "
        "JOIN policies p ON p.id = d.policy_id "
        "WHERE e.aggregate_type = 'document' AND e.aggregate_id = d.id::text"
    )
    # The events written before the queue existed are history: numbered as published here, in
    # the order they were written, rather than each turned into a job by the first relay.
    op.execute(
        "UPDATE outbox_events e SET position = n.position, published_at = now() "
        "FROM (SELECT id, row_number() OVER (ORDER BY id) AS position FROM outbox_events "
        "WHERE published_at IS NULL) n WHERE e.id = n.id"
    )
    op.execute(
        "CREATE FUNCTION pd_prime_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN PERFORM pg_notify('pd_prime_outbox', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER outbox_events_notify AFTER INSERT ON outbox_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION pd_prime_outbox_notify()"
    )

    op.create_table(
        "job_errors",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("task_name", sa.String(length=200), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_errors")),
    )

    op.add_column(
        "documents",
        sa.Column("status", sa.String(length=10), server_default="ready", nullable=False),
    )
    op.add_column(
        "documents", sa.Column("facts", postgresql.JSONB(astext_type=sa.Text()), nullable=True)
    )
    op.add_column("documents", sa.Column("error", sa.Text(), nullable=True))
    op.add_column("documents", sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE documents SET rendered_at = created_at")
    op.alter_column("documents", "content", nullable=True)
    op.alter_column("documents", "sha256", nullable=True)
    op.create_index(
        "ix_documents_status_created_at",
        "documents",
        ["status", "created_at"],
        postgresql_where=sa.text("status <> 'ready'"),
    )


def downgrade() -> None:
    op.drop_index("ix_documents_status_created_at", table_name="documents")
    op.execute("DELETE FROM documents WHERE content IS NULL")
    op.alter_column("documents", "sha256", nullable=False)
    op.alter_column("documents", "content", nullable=False)
    for column in ("rendered_at", "error", "facts", "status"):
        op.drop_column("documents", column)
    op.drop_table("job_errors")
    op.execute("DROP TRIGGER outbox_events_notify ON outbox_events")
    op.execute("DROP FUNCTION pd_prime_outbox_notify()")
    op.drop_index("ix_outbox_events_customer_id_position", table_name="outbox_events")
    op.drop_index("ux_outbox_events_position", table_name="outbox_events")
    op.drop_column("outbox_events", "customer_id")
    op.drop_column("outbox_events", "position")
    _run_script(_DROP_PROCRASTINATE)
