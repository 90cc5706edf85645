"""The authorization matrix's rows for the privacy routes of issue 16 (see tests/authz_rows.py)."""

from __future__ import annotations

from tests.authz_rows import Row

PRIVACY_ROWS: tuple[Row, ...] = ()
