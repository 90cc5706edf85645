"""The authorization matrix's rows for the privacy fulfilment routes (see tests/authz_rows.py)."""

from __future__ import annotations

from tests.authz_rows import P, Row

HOLDS = "/api/v1/privacy/holds"

# Path values the matrix's world must supply: hold_id (any UUID, e.g. str(uuid.uuid4()): a
# hold that does not exist answers 404 past authorization).
PRIVACY_FULFILMENT_ROWS: tuple[Row, ...] = (
    Row(
        "POST",
        HOLDS,
        P.PRIVACY_MANAGE,
        body={
            "scope": "customer",
            "subject_id": "00000000-0000-4000-8000-000000000000",
            "reason": "matrix",
            "matter_reference": "M-1",
        },
    ),
    Row("GET", HOLDS, P.PRIVACY_MANAGE),
    Row("GET", HOLDS + "/{hold_id}", P.PRIVACY_MANAGE),
    Row("POST", HOLDS + "/{hold_id}/release", P.PRIVACY_MANAGE, body={}),
    Row("GET", "/api/v1/privacy/retention/schedule", P.PRIVACY_MANAGE),
    Row("GET", "/api/v1/privacy/retention/runs", P.PRIVACY_MANAGE),
)
