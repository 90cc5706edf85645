"""The authorization matrix's rows for the audit routes of issue 16 (see tests/authz_rows.py)."""

from __future__ import annotations

from tests.authz_rows import Row

AUDIT_ROWS: tuple[Row, ...] = ()
