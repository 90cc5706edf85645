"""The authorization matrix's rows for the compliance routes (see tests/authz_rows.py)."""

from __future__ import annotations

from tests.authz_rows import P, Row

RUNS = "/api/v1/compliance/runs"

# Path values the matrix's world must supply: control_id (a control of the catalogue, e.g.
# "CC6.1-logical-access"), run_id (any integer, e.g. "1": a run that does not exist answers
# 404 past authorization) and name (an artefact's file name, e.g. "evidence.json").
COMPLIANCE_ROWS: tuple[Row, ...] = (
    Row("GET", "/api/v1/compliance/controls", P.COMPLIANCE_READ),
    Row("POST", "/api/v1/compliance/controls/{control_id}/runs", P.COMPLIANCE_MANAGE),
    Row("GET", RUNS, P.COMPLIANCE_READ),
    Row("GET", RUNS + "/{run_id}", P.COMPLIANCE_READ),
    Row("GET", RUNS + "/{run_id}/evidence/{name}", P.COMPLIANCE_READ),
    Row("GET", "/api/v1/compliance/export", P.COMPLIANCE_READ),
)
