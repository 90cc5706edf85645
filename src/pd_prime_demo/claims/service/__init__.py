"""Claims use cases: first notice of loss, the workflow, the money, loss reporting and
reserving. Other domains use claims only through this module: the names below."""

from pd_prime_demo.claims.service.common import NOT_FOUND, get_claim

# --- fnol (first notice, coverage check, attachments, fraud indicators) ---

# --- workflow (reads, status, assignment, notes, diary, as of) ---

# --- money (exposures, reserves, payments, recoveries, authority, approvals) ---

# --- reserving (loss reports, triangles, reserve analyses) ---

__all__ = [
    "NOT_FOUND",
    "get_claim",
]
