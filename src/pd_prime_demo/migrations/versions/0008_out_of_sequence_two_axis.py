"""policy versions, out-of-sequence changes, two-axis history and referred changes

Policies get a version (their ETag for If-Match). A policy transaction records what was asked
for (``change``) so that it can be re-applied on top of an out-of-sequence change, and a new
kind, ``reversal``, undoes a later transaction (``reverses_seq``). Installments and billing
terms keep their earlier versions (written by a trigger), so a billing account can be read as
it was known at any moment. Endorsements that underwriting must see wait in policy_changes.

Listings get the indexes they page and filter by.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 08:25:32.479445
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


KINDS = "'new_business', 'endorsement', 'cancellation', 'reinstatement', 'renewal', 'non_renewal'"
KINDS_WITH_REVERSAL = KINDS + ", 'reversal'"

# The version a row had until an update replaced it; the application stamps recorded_at on
# every write, so the replaced version held from its recorded_at to the new one's.
INSTALLMENTS_HISTORY = """
CREATE FUNCTION installments_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO installments_history (id, policy_id, term_start, seq, due_on, amount, fee,
        invoice_number, invoiced_on, cancelled_on, notice_sent_on, cancel_effective_on,
        recorded_at, superseded_at)
    VALUES (OLD.id, OLD.policy_id, OLD.term_start, OLD.seq, OLD.due_on, OLD.amount, OLD.fee,
        OLD.invoice_number, OLD.invoiced_on, OLD.cancelled_on, OLD.notice_sent_on,
        OLD.cancel_effective_on, OLD.recorded_at, NEW.recorded_at);
    RETURN NULL;
END;
$$
"""

BILLING_TERMS_HISTORY = """
CREATE FUNCTION billing_terms_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO billing_terms_history (policy_id, term_start, term_end, total, cover_ends_on,
        recorded_at, superseded_at)
    VALUES (OLD.policy_id, OLD.term_start, OLD.term_end, OLD.total, OLD.cover_ends_on,
        OLD.recorded_at, NEW.recorded_at);
    RETURN NULL;
END;
$$
"""


def upgrade() -> None:
    op.create_table(
        "billing_terms_history",
        sa.Column("history_id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("cover_ends_on", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("history_id", name=op.f("pk_billing_terms_history")),
    )
    op.create_index(
        "ix_billing_terms_history_policy_id", "billing_terms_history", ["policy_id"], unique=False
    )
    op.create_table(
        "installments_history",
        sa.Column("history_id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("fee", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("invoice_number", sa.String(length=40), nullable=True),
        sa.Column("invoiced_on", sa.Date(), nullable=True),
        sa.Column("cancelled_on", sa.Date(), nullable=True),
        sa.Column("notice_sent_on", sa.Date(), nullable=True),
        sa.Column("cancel_effective_on", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("history_id", name=op.f("pk_installments_history")),
    )
    op.create_index(
        "ix_installments_history_policy_id", "installments_history", ["policy_id"], unique=False
    )
    op.create_table(
        "policy_changes",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("underwriting", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("required_authority", sa.Integer(), nullable=False),
        sa.Column("premium_change", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("transaction_id", sa.UUID(), nullable=True),
        sa.CheckConstraint(
            "status IN ('referred', 'applied', 'declined')",
            name=op.f("ck_policy_changes_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_policy_changes_policy_id_policies")
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["policy_transactions.id"],
            name=op.f("fk_policy_changes_transaction_id_policy_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_changes")),
    )
    op.create_index("ix_policy_changes_policy_id", "policy_changes", ["policy_id"], unique=False)
    op.create_index(
        "ix_policy_changes_referred",
        "policy_changes",
        ["requested_at"],
        unique=False,
        postgresql_where="status = 'referred'",
    )
    for table in ("billing_terms", "installments"):
        # Rows written before history was kept are known from the migration on; rows written
        # by hand (a bulk loader, say) get the time of their insert.
        op.add_column(
            table,
            sa.Column(
                "recorded_at",
                sa.DateTime(timezone=True),
                server_default=sa.text("now()"),
                nullable=False,
            ),
        )
    op.add_column(
        "policies", sa.Column("version", sa.Integer(), server_default="1", nullable=False)
    )
    op.execute(
        "UPDATE policies p SET version = t.latest FROM "
        "(SELECT policy_id, max(seq) AS latest FROM policy_transactions GROUP BY policy_id) t "
        "WHERE t.policy_id = p.id"
    )
    op.add_column(
        "policy_transactions",
        sa.Column(
            "change", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
    )
    op.add_column("policy_transactions", sa.Column("reverses_seq", sa.Integer(), nullable=True))
    op.add_column("policy_transactions", sa.Column("reapplies_seq", sa.Integer(), nullable=True))
    op.create_index(
        "ix_policy_transactions_reversals",
        "policy_transactions",
        ["policy_id", "reverses_seq"],
        unique=False,
        postgresql_where="reverses_seq IS NOT NULL",
    )
    op.drop_constraint(
        op.f("ck_policy_transactions_kind_known"), "policy_transactions", type_="check"
    )
    op.create_check_constraint(
        "kind_known", "policy_transactions", f"kind IN ({KINDS_WITH_REVERSAL})"
    )
    op.drop_index(op.f("ix_documents_policy_id"), table_name="documents")
    op.create_index("ix_documents_kind_source_id", "documents", ["kind", "source_id"])
    op.create_index(
        "ix_documents_policy_id_created_at", "documents", ["policy_id", "created_at", "id"]
    )
    op.create_index("ix_policies_created_at_id", "policies", ["created_at", "id"])
    op.create_index("ix_policies_product_state", "policies", ["product_code", "state"])
    op.execute(INSTALLMENTS_HISTORY)
    op.execute(
        "CREATE TRIGGER installments_history AFTER UPDATE ON installments "
        "FOR EACH ROW EXECUTE FUNCTION installments_history()"
    )
    op.execute(BILLING_TERMS_HISTORY)
    op.execute(
        "CREATE TRIGGER billing_terms_history AFTER UPDATE ON billing_terms "
        "FOR EACH ROW EXECUTE FUNCTION billing_terms_history()"
    )


def downgrade() -> None:
    op.drop_index("ix_policies_product_state", table_name="policies")
    op.drop_index("ix_policies_created_at_id", table_name="policies")
    op.drop_index("ix_documents_policy_id_created_at", table_name="documents")
    op.drop_index("ix_documents_kind_source_id", table_name="documents")
    op.create_index(op.f("ix_documents_policy_id"), "documents", ["policy_id"])
    op.execute("DROP TRIGGER IF EXISTS installments_history ON installments")
    op.execute("DROP FUNCTION IF EXISTS installments_history()")
    op.execute("DROP TRIGGER IF EXISTS billing_terms_history ON billing_terms")
    op.execute("DROP FUNCTION IF EXISTS billing_terms_history()")
    op.drop_constraint(
        op.f("ck_policy_transactions_kind_known"), "policy_transactions", type_="check"
    )
    op.create_check_constraint("kind_known", "policy_transactions", f"kind IN ({KINDS})")
    op.drop_index(
        "ix_policy_transactions_reversals",
        table_name="policy_transactions",
        postgresql_where="reverses_seq IS NOT NULL",
    )
    op.drop_column("policy_transactions", "reapplies_seq")
    op.drop_column("policy_transactions", "reverses_seq")
    op.drop_column("policy_transactions", "change")
    op.drop_column("policies", "version")
    op.drop_column("installments", "recorded_at")
    op.drop_column("billing_terms", "recorded_at")
    op.drop_index(
        "ix_policy_changes_referred",
        table_name="policy_changes",
        postgresql_where="status = 'referred'",
    )
    op.drop_index("ix_policy_changes_policy_id", table_name="policy_changes")
    op.drop_table("policy_changes")
    op.drop_index("ix_installments_history_policy_id", table_name="installments_history")
    op.drop_table("installments_history")
    op.drop_index("ix_billing_terms_history_policy_id", table_name="billing_terms_history")
    op.drop_table("billing_terms_history")
