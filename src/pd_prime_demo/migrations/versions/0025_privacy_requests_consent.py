"""privacy: data subject requests and the consent ledger (owner: privacy requests)

The consent ledger and a request's history are append-only (GDPR Art. 7(1): the controller
demonstrates consent; Art. 5(2) accountability): the shared ``append_only()`` trigger function
refuses UPDATE, DELETE and TRUNCATE on them.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("consent_records", "privacy_request_events")


def upgrade() -> None:
    op.create_table(
        "privacy_notices",
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_privacy_notices")),
    )
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("regime", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("extended_due_on", sa.Date(), nullable=True),
        sa.Column("extension_reason", sa.Text(), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("corrections_enc", sa.Text(), nullable=True),
        sa.Column("outcome", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'rejected') = (rejection_reason IS NOT NULL)",
            name=op.f("ck_privacy_requests_rejected_has_reason"),
        ),
        sa.CheckConstraint(
            "channel IN ('self', 'staff', 'intake')", name=op.f("ck_privacy_requests_channel_known")
        ),
        sa.CheckConstraint(
            "kind IN ('access', 'portability', 'rectification', 'restriction', 'objection', 'opt_out', 'erasure')",
            name=op.f("ck_privacy_requests_kind_known"),
        ),
        sa.CheckConstraint(
            "regime IN ('gdpr', 'ccpa')", name=op.f("ck_privacy_requests_regime_known")
        ),
        sa.CheckConstraint(
            "status IN ('received', 'verified', 'in_progress', 'completed', 'rejected')",
            name=op.f("ck_privacy_requests_status_known"),
        ),
        sa.CheckConstraint(
            "(extended_due_on IS NULL) = (extension_reason IS NULL)",
            name=op.f("ck_privacy_requests_extension_has_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_privacy_requests_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index(
        "ix_privacy_requests_closed_at", "privacy_requests", ["closed_at"], unique=False
    )
    op.create_index(
        "ix_privacy_requests_customer",
        "privacy_requests",
        ["customer_id", "received_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_privacy_requests_open_due",
        "privacy_requests",
        ["due_on"],
        unique=False,
        postgresql_where="status IN ('received', 'verified', 'in_progress')",
    )
    op.create_index(
        "ix_privacy_requests_received", "privacy_requests", ["received_at", "id"], unique=False
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("customer_id", sa.UUID(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("notice_version", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.UUID(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "purpose IN ('marketing_email', 'marketing_phone', 'sale_sharing', 'sensitive_pi_use', 'telematics', 'profiling')",
            name=op.f("ck_consent_records_purpose_known"),
        ),
        sa.CheckConstraint(
            "source IN ('portal', 'agent', 'api', 'dsr')",
            name=op.f("ck_consent_records_source_known"),
        ),
        sa.CheckConstraint(
            "NOT granted OR notice_version IS NOT NULL",
            name=op.f("ck_consent_records_grant_has_notice"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_consent_records_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["notice_version"],
            ["privacy_notices.version"],
            name=op.f("fk_consent_records_notice_version_privacy_notices"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name=op.f("fk_consent_records_request_id_privacy_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    op.create_index(
        "ix_consent_records_customer_purpose",
        "consent_records",
        ["customer_id", "purpose", "recorded_at", "id"],
        unique=False,
    )
    op.create_table(
        "privacy_exports",
        sa.Column("request_id", sa.UUID(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("content_enc", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name=op.f("fk_privacy_exports_request_id_privacy_requests"),
        ),
        sa.PrimaryKeyConstraint("request_id", "format", name=op.f("pk_privacy_exports")),
    )
    op.create_table(
        "privacy_request_events",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("request_id", sa.UUID(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name=op.f("fk_privacy_request_events_request_id_privacy_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_request_events")),
    )
    op.create_index(
        "ix_privacy_request_events_request",
        "privacy_request_events",
        ["request_id", "occurred_at"],
        unique=False,
    )
    op.create_table(
        "privacy_verifications",
        sa.Column("request_id", sa.UUID(), nullable=False),
        sa.Column("code_digest", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("consumed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name=op.f("fk_privacy_verifications_request_id_privacy_requests"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_privacy_verifications")),
    )

    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION append_only()"
        )


def downgrade() -> None:
    for table in (
        "privacy_exports",
        "privacy_verifications",
        "privacy_request_events",
        "consent_records",
        "privacy_requests",
        "privacy_notices",
    ):
        op.drop_table(table)
