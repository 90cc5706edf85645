"""audit chain tail: lock the chain and read its last hash in one round trip

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 23:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# VOLATILE, so the SELECT takes its own snapshot after the lock is granted (READ COMMITTED):
# it sees the entries of the transaction that held the lock before, whatever the caller's
# statement snapshot was. A plain "SELECT pg_advisory_xact_lock(k), (SELECT hash ...)" would
# read the tail as of before the wait and fork the chain.
CHAIN_TAIL_FUNCTION = """
CREATE FUNCTION audit_chain_tail(lock_key bigint) RETURNS varchar
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    RETURN (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1);
END;
$$
"""


def upgrade() -> None:
    op.execute(CHAIN_TAIL_FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS audit_chain_tail(bigint)")
