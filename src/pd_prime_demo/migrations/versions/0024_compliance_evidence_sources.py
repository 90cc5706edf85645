"""what controls read that nothing recorded before: backups, restore tests, security reviews, scrapes (owner: compliance controls)

``backup_runs`` and ``security_reviews`` are evidence an auditor samples (AICPA TSC A1.2,
CC7.3): append-only, as the ledger is (0003's ``append_only()``). ``metrics_scrapes`` is one
row per endpoint, overwritten: only the last scrape matters to CC7.2.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("backup_runs", "security_reviews")


def upgrade() -> None:
    op.create_table(
        "backup_runs",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("file", sa.String(300), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("backup_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("migration_revision", sa.String(32), nullable=True),
        sa.Column("audit_entries", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('backup', 'restore_verification')", name=op.f("ck_backup_runs_kind_known")
        ),
    )
    op.create_index("ix_backup_runs_kind_finished_at", "backup_runs", ["kind", "finished_at"])
    op.create_table(
        "security_reviews",
        sa.Column("id", sa.UUID(), primary_key=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by", sa.String(100), nullable=False),
        sa.Column("covers_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("covers_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("events_reviewed", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(200), nullable=True),
        sa.CheckConstraint(
            "covers_from < covers_to", name=op.f("ck_security_reviews_period_ordered")
        ),
        sa.CheckConstraint(
            "outcome IN ('no_issues', 'issues_found')",
            name=op.f("ck_security_reviews_outcome_known"),
        ),
    )
    op.create_index("ix_security_reviews_covers_to_id", "security_reviews", ["covers_to", "id"])
    op.create_table(
        "metrics_scrapes",
        sa.Column("endpoint", sa.String(40), primary_key=True),
        sa.Column("last_scraped_at", sa.DateTime(timezone=True), nullable=False),
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION append_only()"
        )


def downgrade() -> None:
    op.drop_table("metrics_scrapes")
    op.drop_table("security_reviews")
    op.drop_table("backup_runs")
