"""Policy routes: binding, reading (as of a date, as known at a moment), the lifecycle
changes, underwriting referrals of changes, and the policy's documents."""

from fastapi import APIRouter

from pd_prime_demo.policies.router.changes import router as changes_router
from pd_prime_demo.policies.router.reads import router as reads_router

router = APIRouter()
router.include_router(reads_router)
router.include_router(changes_router)

__all__ = ["router"]
