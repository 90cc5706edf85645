"""Policy routes: binding, reading (as of a date, as known at a moment), the lifecycle
changes, underwriting referrals of changes, the policy's documents, and converting a book."""

from fastapi import APIRouter

from pd_prime_demo.policies.router.changes import router as changes_router
from pd_prime_demo.policies.router.imports import router as imports_router
from pd_prime_demo.policies.router.reads import router as reads_router

router = APIRouter()
router.include_router(reads_router)
router.include_router(changes_router)
router.include_router(imports_router)

__all__ = ["router"]
