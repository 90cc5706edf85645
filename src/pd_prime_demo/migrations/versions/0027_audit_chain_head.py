"""audit chain head: the last entry's id and hash in a one-row table, kept by the append

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02 07:10:00.000000

Since 0022 ``audit_log`` is partitioned by month, and the append's "last entry"
(``ORDER BY id DESC LIMIT 1``) probes the id index of every partition: about 1.5 ms an append
with the 98 partitions that seven years of retention keep (measured on PostgreSQL 15), paid by
every writing request. The head row is read and written under the chain's advisory lock, so it
adds no contention, and rolls back with the entries it describes. When it is missing (a
database chained before this revision and not migrated through here) the append falls back to
reading the tail itself. Verification never trusts it: it recomputes the chain from the rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# audit_chain_append as 0005 wrote it, with where the previous hash comes from and what the
# function does after its loop as the two parts this revision changes.
_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_chain_append(lock_key bigint, entries jsonb)
RETURNS SETOF bigint LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    entry jsonb;
    prev varchar(64);
    digest varchar(64);
    new_id bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
{read_head}
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
{write_head}
END;
$$
"""

_READ_TAIL = """    prev := COALESCE(
        (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), repeat('0', 64)
    );"""

_APPEND = _FUNCTION.format(
    read_head="""    SELECT last_hash INTO prev FROM audit_chain_head WHERE singleton;
    IF NOT FOUND THEN
        prev := COALESCE(
            (SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1), repeat('0', 64)
        );
    END IF;""",
    write_head="""    IF new_id IS NOT NULL THEN
        INSERT INTO audit_chain_head (singleton, last_id, last_hash)
        VALUES (true, new_id, prev)
        ON CONFLICT (singleton) DO UPDATE
            SET last_id = EXCLUDED.last_id, last_hash = EXCLUDED.last_hash;
    END IF;""",
)
# 0005's body, restored by the downgrade.
_APPEND_0005 = _FUNCTION.format(read_head=_READ_TAIL, write_head="")


def upgrade() -> None:
    op.create_table(
        "audit_chain_head",
        sa.Column("singleton", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("singleton", name=op.f("ck_audit_chain_head_singleton")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_audit_chain_head")),
    )
    # Taken under the chain's lock, so no append slips in between the read and the switch.
    op.execute("SELECT pg_advisory_xact_lock(5783819655924241408)")
    op.execute(
        "INSERT INTO audit_chain_head (singleton, last_id, last_hash) "
        "SELECT true, id, hash FROM audit_log ORDER BY id DESC LIMIT 1"
    )
    op.execute(_APPEND)


def downgrade() -> None:
    op.execute(_APPEND_0005)
    op.drop_table("audit_chain_head")
