"""staff single sign-on by the provider's issuer and subject

- ``user_external_identities``: the (issuer, subject) a staff account signs in with at an
  external OpenID Connect provider (identity.sso). Unique per (issuer, subject), and one
  subject per issuer per account. Single sign-on no longer finds accounts by e-mail.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 15:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_external_identities",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("issuer", sa.String(1000), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_external_identities_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_external_identities")),
        sa.UniqueConstraint("issuer", "subject", name="uq_user_external_identities_issuer_subject"),
        sa.UniqueConstraint("user_id", "issuer", name="uq_user_external_identities_user_id_issuer"),
    )


def downgrade() -> None:
    op.drop_table("user_external_identities")
