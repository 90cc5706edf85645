"""Operations (issue 15): the trace context an event carries into its jobs, and the last result
of each integrity check (the audit chain, the ledger) for the metrics.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("outbox_events", sa.Column("traceparent", sa.String(55), nullable=True))
    op.create_table(
        "integrity_checks",
        sa.Column("check", sa.String(40), primary_key=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("integrity_checks")
    op.drop_column("outbox_events", "traceparent")
