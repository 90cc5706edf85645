"""privacy: legal holds, erasures and retention runs (owner: privacy fulfilment)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "privacy_legal_holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("matter_reference", sa.String(100), nullable=False),
        sa.Column("placed_at", _TS, nullable=False),
        sa.Column("placed_by", sa.String(100), nullable=False),
        sa.Column("released_at", _TS, nullable=True),
        sa.Column("released_by", sa.String(100), nullable=True),
        sa.Column("release_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "scope IN ('customer', 'policy', 'claim')",
            name=op.f("ck_privacy_legal_holds_scope_known"),
        ),
        sa.CheckConstraint(
            "(released_at IS NULL) = (released_by IS NULL)",
            name=op.f("ck_privacy_legal_holds_released_has_who"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_legal_holds")),
    )
    op.create_index(
        "ix_privacy_legal_holds_active_customer",
        "privacy_legal_holds",
        ["customer_id"],
        postgresql_where=sa.text("released_at IS NULL"),
    )
    op.create_index(
        "ix_privacy_legal_holds_placed_at_id", "privacy_legal_holds", ["placed_at", "id"]
    )
    op.create_table(
        "privacy_erasures",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=True),
        sa.Column("origin", sa.String(12), nullable=False),
        sa.Column("report", postgresql.JSONB(), nullable=False),
        sa.Column("erased_at", _TS, nullable=False),
        sa.Column("erased_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_erasures")),
    )
    op.create_index(
        "ix_privacy_erasures_customer_id", "privacy_erasures", ["customer_id"], unique=True
    )
    op.create_table(
        "privacy_retention_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=True),
        sa.Column("started_by", sa.String(100), nullable=False),
        sa.Column("progress", postgresql.JSONB(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_retention_runs")),
    )
    op.create_index(
        "ix_privacy_retention_runs_started_at", "privacy_retention_runs", ["started_at"]
    )

    # A privacy request finds a person wherever they are a party of a claim (claims.privacy).
    op.create_index("ix_claim_parties_customer_id", "claim_parties", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_claim_parties_customer_id", table_name="claim_parties")
    op.drop_table("privacy_retention_runs")
    op.drop_table("privacy_erasures")
    op.drop_table("privacy_legal_holds")
