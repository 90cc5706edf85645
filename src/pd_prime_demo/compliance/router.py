"""The compliance domain's HTTP routes: controls, their runs and the auditor's export
(``router_controls``), and the evidence sources people record (``router_evidence``)."""

from __future__ import annotations

from fastapi import APIRouter

from pd_prime_demo.compliance.router_controls import router as controls_router
from pd_prime_demo.compliance.router_evidence import router as evidence_router

router = APIRouter()
router.include_router(controls_router)
router.include_router(evidence_router)
