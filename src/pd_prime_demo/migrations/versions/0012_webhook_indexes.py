"""webhooks: the index a replay's wake-up reads its subscription's pending deliveries on, and
each endpoint's circuit breaker

- ``ix_webhook_deliveries_pending``: a subscription's pending deliveries in id order, with the
  moment each is due, for ``repository.due_of`` (the chunks a replay's fan-out wakes): without
  it each chunk sorted every pending delivery of the subscription.
- ``webhook_subscriptions.consecutive_failures`` and ``paused_until``: an endpoint that failed
  enough attempts in a row is left alone until then, and then tried one attempt at a time.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "webhook_subscriptions",
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "webhook_subscriptions",
        sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        ["subscription_id", "id"],
        postgresql_include=["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_pending", table_name="webhook_deliveries")
    op.drop_column("webhook_subscriptions", "paused_until")
    op.drop_column("webhook_subscriptions", "consecutive_failures")
