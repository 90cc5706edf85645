"""billing accounts, terms and premium earnings: what billing keeps of its own

Billing no longer reads the policy tables: each policy gets a billing account (its number,
customer, plan and the product's billing rules), each term what it bills in all and when its
cover ends early, and each transaction the pieces its premium is earned over. Existing
policies are carried over from their transactions, in the same migration.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 07:55:50.259289
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The billing rules of the version each policy's latest transaction was rated on (as billing
# used them until now); a plan's fee from the version, or the platform's default plans.
BACKFILL_ACCOUNTS = """
INSERT INTO billing_accounts (policy_id, policy_number, policy_serial, customer_id, product_code,
    state, payment_plan, installment_fee, invoice_lead_days, grace_days, notice_days, opened_at)
SELECT p.id, p.number, p.serial, p.customer_id, p.product_code, p.state, p.payment_plan,
    coalesce(
        (SELECT (plan->>'installment_fee')::numeric
         FROM jsonb_array_elements(v.definition->'billing'->'payment_plans') AS plan
         WHERE plan->>'code' = p.payment_plan),
        CASE p.payment_plan WHEN 'semi_annual' THEN 3 WHEN 'quarterly' THEN 4
            WHEN 'monthly' THEN 5 ELSE 0 END),
    coalesce((v.definition->'billing'->>'invoice_lead_days')::int, 15),
    coalesce((v.definition->'billing'->>'grace_days')::int, 10),
    coalesce((v.definition->'billing'->>'notice_days')::int, 10),
    p.created_at
FROM policies p
JOIN LATERAL (
    SELECT t.product_version_id FROM policy_transactions t
    WHERE t.policy_id = p.id ORDER BY t.seq DESC LIMIT 1
) AS latest ON true
JOIN product_versions v ON v.id = latest.product_version_id
"""

# A term bills the sum of its transactions; its cover ends early if the transaction in effect
# last within it is a cancellation.
BACKFILL_TERMS = """
INSERT INTO billing_terms (policy_id, term_start, term_end, total, cover_ends_on)
SELECT t.policy_id, t.term_start, max(t.term_end),
    sum(t.premium_change + t.fees_change + t.taxes_change),
    (SELECT CASE WHEN last.snapshot->>'status' = 'cancelled' THEN last.effective_on END
     FROM policy_transactions last
     WHERE last.policy_id = t.policy_id AND last.term_start = t.term_start
     ORDER BY last.effective_on DESC, last.seq DESC LIMIT 1)
FROM policy_transactions t
GROUP BY t.policy_id, t.term_start
"""

BACKFILL_EARNINGS = """
INSERT INTO premium_earnings (policy_id, source_id, product_code, state, accounting_on,
    recorded_at, amount, start_on, end_on, basis, term_start, term_end)
SELECT t.policy_id, t.id, p.product_code, p.state, t.accounting_on, t.created_at,
    (e->>'amount')::numeric, (e->>'start')::date, (e->>'end')::date, 'days',
    t.term_start, t.term_end
FROM policy_transactions t
JOIN policies p ON p.id = t.policy_id
CROSS JOIN LATERAL jsonb_array_elements(t.earnings) WITH ORDINALITY AS piece(e, n)
WHERE (e->>'amount')::numeric <> 0
ORDER BY t.created_at, t.seq, piece.n
"""


def upgrade() -> None:
    op.create_table(
        "billing_accounts",
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("policy_number", sa.String(length=30), nullable=False),
        sa.Column("policy_serial", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("product_code", sa.String(length=50), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("payment_plan", sa.String(length=20), nullable=False),
        sa.Column("installment_fee", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("invoice_lead_days", sa.Integer(), nullable=False),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("notice_days", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_billing_accounts_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_billing_accounts_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("policy_id", name=op.f("pk_billing_accounts")),
    )
    op.create_index(
        "ix_billing_accounts_customer_id", "billing_accounts", ["customer_id"], unique=False
    )
    op.create_table(
        "billing_terms",
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=False),
        sa.Column("total", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("cover_ends_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["billing_accounts.policy_id"],
            name=op.f("fk_billing_terms_policy_id_billing_accounts"),
        ),
        sa.PrimaryKeyConstraint("policy_id", "term_start", name=op.f("pk_billing_terms")),
    )
    op.create_table(
        "premium_earnings",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("policy_id", sa.UUID(), nullable=False),
        sa.Column("source_id", sa.UUID(), nullable=False),
        sa.Column("product_code", sa.String(length=50), nullable=False),
        sa.Column("state", sa.String(length=2), nullable=False),
        sa.Column("accounting_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=False),
        sa.Column("basis", sa.String(length=10), nullable=False),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["billing_accounts.policy_id"],
            name=op.f("fk_premium_earnings_policy_id_billing_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_premium_earnings")),
    )
    op.create_index(
        "ix_premium_earnings_accounting_on", "premium_earnings", ["accounting_on"], unique=False
    )
    op.create_index(
        "ix_premium_earnings_policy_id", "premium_earnings", ["policy_id"], unique=False
    )
    op.execute(BACKFILL_ACCOUNTS)
    op.execute(BACKFILL_TERMS)
    op.execute(BACKFILL_EARNINGS)
    op.execute(
        "CREATE TRIGGER premium_earnings_append_only BEFORE UPDATE OR DELETE ON premium_earnings "
        "FOR EACH ROW EXECUTE FUNCTION append_only()"
    )
    op.execute(
        "CREATE TRIGGER premium_earnings_no_truncate BEFORE TRUNCATE ON premium_earnings "
        "FOR EACH STATEMENT EXECUTE FUNCTION append_only()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS premium_earnings_append_only ON premium_earnings")
    op.execute("DROP TRIGGER IF EXISTS premium_earnings_no_truncate ON premium_earnings")
    op.drop_index("ix_premium_earnings_policy_id", table_name="premium_earnings")
    op.drop_index("ix_premium_earnings_accounting_on", table_name="premium_earnings")
    op.drop_table("premium_earnings")
    op.drop_table("billing_terms")
    op.drop_index("ix_billing_accounts_customer_id", table_name="billing_accounts")
    op.drop_table("billing_accounts")
