"""SOC 2 controls: their runs and evidence, chained and append-only (owner: compliance framework)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As audit_log's (0001): the record of how the controls operated is evidence, so no role that
# writes through the application can rewrite or remove it.
IMMUTABLE_FUNCTION = """
CREATE FUNCTION compliance_record_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""

TABLES = ("control_runs", "control_evidence")


def upgrade() -> None:
    op.create_table(
        "control_runs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("control_id", sa.String(length=80), nullable=False),
        sa.Column("criteria", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("covers_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("covers_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("figures", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("covers_from <= covers_to", name=op.f("ck_control_runs_covers_ordered")),
        sa.CheckConstraint("started_at <= finished_at", name=op.f("ck_control_runs_run_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_control_runs")),
        sa.UniqueConstraint("hash", name=op.f("uq_control_runs_hash")),
    )
    op.create_index("ix_control_runs_control_started", "control_runs", ["control_id", "started_at"])
    op.create_index("ix_control_runs_started_at", "control_runs", ["started_at"])
    op.create_table(
        "control_evidence",
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        # The database itself vouches that each artefact's hash and size describe its bytes.
        sa.CheckConstraint(
            "sha256 = encode(sha256(content), 'hex')",
            name=op.f("ck_control_evidence_sha256_of_content"),
        ),
        sa.CheckConstraint(
            "size = octet_length(content)", name=op.f("ck_control_evidence_size_of_content")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["control_runs.id"], name=op.f("fk_control_evidence_run_id_control_runs")
        ),
        sa.PrimaryKeyConstraint("run_id", "name", name=op.f("pk_control_evidence")),
    )
    op.execute(IMMUTABLE_FUNCTION)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION compliance_record_immutable()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION compliance_record_immutable()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
    op.execute("DROP FUNCTION IF EXISTS compliance_record_immutable()")
    op.drop_table("control_evidence")
    op.drop_index("ix_control_runs_started_at", table_name="control_runs")
    op.drop_index("ix_control_runs_control_started", table_name="control_runs")
    op.drop_table("control_runs")
