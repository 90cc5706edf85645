"""The authorization matrix's rows for the evidence routes (see tests/authz_rows.py)."""

from __future__ import annotations

from tests.authz_rows import P, Row

_REVIEWS = "/api/v1/compliance/security-reviews"

EVIDENCE_ROWS: tuple[Row, ...] = (
    Row(
        "POST",
        _REVIEWS,
        P.COMPLIANCE_MANAGE,
        body={
            "covers_from": "2026-01-01T00:00:00Z",
            "covers_to": "2026-01-08T00:00:00Z",
            "outcome": "no_issues",
            "events_reviewed": 3,
            "findings": "nothing unusual",
        },
    ),
    Row("GET", _REVIEWS, P.COMPLIANCE_READ),
    Row("GET", _REVIEWS + "/{review_id}", P.COMPLIANCE_READ),
)
