"""audit chain append: lock, read the tail, hash and insert a transaction's entries at once

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 00:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each entry arrives with its canonical JSON cut around the previous hash (``hash_head`` and
# ``hash_tail``, see audit.rules.HashedForm), so the function only concatenates and hashes:
# the canonical form itself is defined once, in Python, and verification recomputes it there.
# VOLATILE, for the reason given in 0004: the tail is read after the lock is granted.
CHAIN_APPEND_FUNCTION = """
CREATE FUNCTION audit_chain_append(lock_key bigint, entries jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    entry jsonb;
    prev varchar(64);
    digest varchar(64);
    new_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    prev := COALESCE(
        (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), repeat('0', 64)
    );
    FOR entry IN SELECT e FROM jsonb_array_elements(entries) WITH ORDINALITY AS a(e, n)
                 ORDER BY n
    LOOP
        digest := encode(
            sha256(convert_to((entry->>'hash_head') || prev || (entry->>'hash_tail'), 'UTF8')),
            'hex'
        );
        INSERT INTO audit_log (occurred_at, actor_kind, actor_id, actor_role, action,
                               resource_type, resource_id, request_id, changes, prev_hash, hash)
        VALUES ((entry->>'occurred_at')::timestamptz, entry->>'actor_kind',
                entry->>'actor_id', entry->>'actor_role', entry->>'action',
                entry->>'resource_type', entry->>'resource_id', entry->>'request_id',
                entry->'changes', prev, digest)
        RETURNING id INTO new_id;
        RETURN NEXT new_id;
        prev := digest;
    END LOOP;
END;
$$
"""


def upgrade() -> None:
    # audit_chain_tail (0004) stays: servers still running the previous release call it until
    # they are replaced, and both functions take the same lock, so they chain correctly side
    # by side. A later migration can drop it.
    op.execute(CHAIN_APPEND_FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS audit_chain_append(bigint, jsonb)")
