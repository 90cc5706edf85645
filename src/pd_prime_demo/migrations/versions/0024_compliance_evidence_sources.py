"""what controls read that nothing recorded before: backups, restore tests, security reviews, scrapes (owner: compliance controls)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
