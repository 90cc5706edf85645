"""Claims use cases: first notice of loss, the workflow, the money, loss reporting and
reserving. Other domains use claims only through this module: the names below."""

from pd_prime_demo.claims.service.common import NOT_FOUND, get_claim

# isort: split
# --- fnol (first notice, coverage check, attachments, fraud indicators) ---
from pd_prime_demo.claims.coverage import ExposureTerms
from pd_prime_demo.claims.service.coverage import exposure_terms, refresh_fraud_indicators
from pd_prime_demo.claims.service.fnol import file_claim

# isort: split
# --- workflow (reads, status, assignment, notes, diary, as of) ---
from pd_prime_demo.claims.service.assignment import assign, assign_on_report
from pd_prime_demo.claims.service.read import ClaimFilter, claim_as_of, list_claims, read_claim
from pd_prime_demo.claims.service.workflow import change_status

# isort: split

# --- money (exposures, reserves, payments, recoveries, authority, approvals) ---
from pd_prime_demo.claims.service.approvals import pending_approvals
from pd_prime_demo.claims.service.exposures import close_reserves
from pd_prime_demo.claims.service.money import ClaimTotals, CostTotals, claim_totals

# isort: split

# --- reserving (loss reports, triangles, reserve analyses) ---
from pd_prime_demo.claims.service.reports import LossReport, earned_premium, loss_report
from pd_prime_demo.claims.service.reserving import (
    build_triangle,
    get_analysis,
    get_triangle,
    import_triangle,
    run_analysis,
)

__all__ = [
    "NOT_FOUND",
    "ClaimFilter",
    "ClaimTotals",
    "CostTotals",
    "ExposureTerms",
    "LossReport",
    "assign",
    "assign_on_report",
    "build_triangle",
    "change_status",
    "claim_as_of",
    "claim_totals",
    "close_reserves",
    "earned_premium",
    "exposure_terms",
    "file_claim",
    "get_analysis",
    "get_claim",
    "get_triangle",
    "import_triangle",
    "list_claims",
    "loss_report",
    "pending_approvals",
    "read_claim",
    "refresh_fraud_indicators",
    "run_analysis",
]
