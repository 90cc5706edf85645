"""API keys and demo accounts

- ``users.is_demo``: demo accounts (seeded with a published password) sign in only in demo
  mode. Existing users are not demo accounts, except the seeded ones, recognised by their
  reserved demo domain.
- ``api_keys``: a user's keys, stored as SHA-256 digests with a non-secret prefix, scoped,
  expiring, with the key that replaced one on rotation.

The PII key rotation needs no table: each ciphertext names its key id, so what is left to
re-encrypt is whatever does not name the active one.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column(
        "users", sa.Column("is_demo", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.execute("UPDATE users SET is_demo = true WHERE email LIKE '%@demo.pdprime.example'")
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=24), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.ARRAY(sa.String(length=32)), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("last_used_at", nullable=True),
        _ts("revoked_at", nullable=True),
        sa.Column("replaced_by_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_api_keys_owner_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"], ["api_keys.id"], name=op.f("fk_api_keys_replaced_by_id_api_keys")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index("ix_api_keys_owner_id_id", "api_keys", ["owner_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_api_keys_owner_id_id", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_column("users", "is_demo")
