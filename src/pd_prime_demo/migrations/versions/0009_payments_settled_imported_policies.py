"""what a payment settled; policies converted from another system

A payment keeps what it settled when it was made, so a replay of its request says the same.
A policy may come from a book conversion instead of a quote: its quote is optional and its
origin says which.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 08:49:43.607324
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "payments",
        sa.Column(
            "settled", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
    )
    op.add_column(
        "policies",
        sa.Column("origin", sa.String(length=20), server_default="bound", nullable=False),
    )
    op.alter_column("policies", "quote_id", existing_type=sa.UUID(), nullable=True)


def downgrade() -> None:
    op.alter_column("policies", "quote_id", existing_type=sa.UUID(), nullable=False)
    op.drop_column("policies", "origin")
    op.drop_column("payments", "settled")
