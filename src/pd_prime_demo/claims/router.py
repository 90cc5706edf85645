"""Claims routes under /api/v1: each part of the domain has its module."""

from __future__ import annotations

from fastapi import APIRouter

from pd_prime_demo.claims.router_fnol import router as fnol_router
from pd_prime_demo.claims.router_money import router as money_router
from pd_prime_demo.claims.router_reserving import router as reserving_router
from pd_prime_demo.claims.router_workflow import router as workflow_router

router = APIRouter()
# The fixed paths (/claims/approvals, /claims/authority-limits, /claims/diary) before the
# workflow's /claims/{claim_id}, which would take them for a claim's id.
router.include_router(fnol_router)
router.include_router(money_router)
router.include_router(reserving_router)
router.include_router(workflow_router)
