"""Documents from templates (issue 17): each document records the template it was drawn from,
and the document kinds get longer names (``cancellation_confirmation``). Refunds get the
index by policy that the account view and the billing run's invoices filter on.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.alter_column(
        "documents", "kind", type_=sa.String(40), existing_type=sa.String(20), nullable=False
    )
    # "<kind>/<declared version>@<first 16 hex of the template file's SHA-256>"; null for the
    # documents drawn before templates (their layout was in code).
    op.add_column("documents", sa.Column("template_version", sa.String(120), nullable=True))
    op.create_index("ix_refunds_policy_id", "refunds", ["policy_id"])


def downgrade() -> None:
    # documents.kind stays 40 wide: rows of the longer kinds (cancellation_confirmation) may
    # exist, and a wider column is harmless to the code before this revision.
    op.drop_index("ix_refunds_policy_id", table_name="refunds")
    op.drop_column("documents", "template_version")
