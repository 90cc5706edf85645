"""the OAuth 2.1 and OpenID Connect provider

- ``api_clients`` gains OAuth registration metadata: client type (a public client has no
  secret), exact redirect URIs, allowed grant types and the token endpoint's auth method.
  Existing clients stay confidential client-credentials clients.
- ``auth_sessions.client_id`` and ``scope``: an OAuth authorization is a login session.
- ``oauth_authorization_codes`` (digests only) and ``oauth_token_log`` (no token values).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_clients",
        sa.Column("client_type", sa.String(16), server_default="confidential", nullable=False),
    )
    op.add_column(
        "api_clients",
        sa.Column("redirect_uris", sa.ARRAY(sa.String(2000)), server_default="{}", nullable=False),
    )
    op.add_column(
        "api_clients",
        sa.Column(
            "grant_types",
            sa.ARRAY(sa.String(32)),
            server_default="{client_credentials}",
            nullable=False,
        ),
    )
    op.add_column(
        "api_clients",
        sa.Column(
            "token_endpoint_auth_method",
            sa.String(32),
            server_default="client_secret_basic",
            nullable=False,
        ),
    )
    op.alter_column("api_clients", "secret_hash", existing_type=sa.String(64), nullable=True)
    op.create_check_constraint(
        op.f("ck_api_clients_client_type_known"),
        "api_clients",
        "client_type IN ('confidential', 'public')",
    )
    op.create_check_constraint(
        op.f("ck_api_clients_secret_iff_confidential"),
        "api_clients",
        "(client_type = 'public') = (secret_hash IS NULL)",
    )

    op.add_column("auth_sessions", sa.Column("client_id", sa.UUID(), nullable=True))
    op.add_column("auth_sessions", sa.Column("scope", sa.String(1000), nullable=True))
    op.create_foreign_key(
        op.f("fk_auth_sessions_client_id_api_clients"),
        "auth_sessions",
        "api_clients",
        ["client_id"],
        ["id"],
    )

    op.create_table(
        "oauth_authorization_codes",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("redirect_uri", sa.String(2000), nullable=False),
        sa.Column("scope", sa.String(1000), nullable=False),
        sa.Column("nonce", sa.String(255), nullable=True),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amr", sa.ARRAY(sa.String(16)), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_id", sa.UUID(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["api_clients.id"],
            name=op.f("fk_oauth_authorization_codes_client_id_api_clients"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_oauth_authorization_codes_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["auth_sessions.id"],
            name=op.f("fk_oauth_authorization_codes_session_id_auth_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_authorization_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_oauth_authorization_codes_code_hash")),
    )
    op.create_index(
        "ix_oauth_authorization_codes_client_id", "oauth_authorization_codes", ["client_id"]
    )
    op.create_index(
        "ix_oauth_authorization_codes_user_id", "oauth_authorization_codes", ["user_id"]
    )

    op.create_table(
        "oauth_token_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("grant_type", sa.String(32), nullable=True),
        sa.Column("client_id", sa.UUID(), nullable=True),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("session_id", sa.UUID(), nullable=True),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.CheckConstraint(
            "event IN ('issued', 'refreshed', 'revoked', 'reuse_detected', 'code_replayed')",
            name=op.f("ck_oauth_token_log_event_known"),
        ),
        sa.CheckConstraint(
            "grant_type IS NULL OR grant_type IN "
            "('authorization_code', 'refresh_token', 'client_credentials')",
            name=op.f("ck_oauth_token_log_grant_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_token_log")),
    )
    op.create_index("ix_oauth_token_log_client_id_at", "oauth_token_log", ["client_id", "at"])
    op.create_index("ix_oauth_token_log_user_id_at", "oauth_token_log", ["user_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_oauth_token_log_user_id_at", table_name="oauth_token_log")
    op.drop_index("ix_oauth_token_log_client_id_at", table_name="oauth_token_log")
    op.drop_table("oauth_token_log")
    op.drop_index("ix_oauth_authorization_codes_user_id", table_name="oauth_authorization_codes")
    op.drop_index("ix_oauth_authorization_codes_client_id", table_name="oauth_authorization_codes")
    op.drop_table("oauth_authorization_codes")
    op.drop_constraint(
        op.f("fk_auth_sessions_client_id_api_clients"), "auth_sessions", type_="foreignkey"
    )
    op.drop_column("auth_sessions", "scope")
    op.drop_column("auth_sessions", "client_id")
    op.drop_constraint(op.f("ck_api_clients_secret_iff_confidential"), "api_clients", "check")
    op.drop_constraint(op.f("ck_api_clients_client_type_known"), "api_clients", "check")
    # Public clients have no secret to restore: they cannot survive the downgrade.
    op.execute("DELETE FROM api_clients WHERE secret_hash IS NULL")
    op.alter_column("api_clients", "secret_hash", existing_type=sa.String(64), nullable=False)
    op.drop_column("api_clients", "token_endpoint_auth_method")
    op.drop_column("api_clients", "grant_types")
    op.drop_column("api_clients", "redirect_uris")
    op.drop_column("api_clients", "client_type")
