"""The authorization matrix's rows for the evidence routes (see tests/authz_rows.py)."""

from __future__ import annotations

from tests.authz_rows import Row

EVIDENCE_ROWS: tuple[Row, ...] = ()
