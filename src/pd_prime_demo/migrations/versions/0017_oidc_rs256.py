"""RS256 ID tokens

- ``api_clients.id_token_signed_response_alg`` (OIDC Dynamic Client Registration §2): how a
  client's ID tokens are signed, RS256 or ES256. Clients registered before keep ES256, which
  is what their relying parties were built against; new ones default to RS256 when the
  provider has an RSA key (identity.clients).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "api_clients",
        sa.Column(
            "id_token_signed_response_alg",
            sa.String(8),
            server_default="ES256",
            nullable=False,
        ),
    )
    op.create_check_constraint(
        op.f("ck_api_clients_id_token_alg_known"),
        "api_clients",
        "id_token_signed_response_alg IN ('RS256', 'ES256')",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_api_clients_id_token_alg_known"), "api_clients", "check")
    op.drop_column("api_clients", "id_token_signed_response_alg")
