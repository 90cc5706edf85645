"""The authorization matrix's rows for the compliance routes (see tests/authz_rows.py)."""

from __future__ import annotations

from tests.authz_rows import Row

COMPLIANCE_ROWS: tuple[Row, ...] = ()
