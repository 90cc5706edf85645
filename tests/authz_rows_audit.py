"""The authorization matrix's rows for the audit routes of issue 16 (see tests/authz_rows.py)."""

from __future__ import annotations

from tests.authz_rows import P, Row

AUDIT_ROWS: tuple[Row, ...] = (
    # Auditors read the signed checkpoints (AICPA TSC CC7.2: the audit trail's own evidence).
    Row("GET", "/api/v1/audit/checkpoints", P.AUDIT_READ),
)
