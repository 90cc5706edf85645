"""Every domain router, under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter

from pd_prime_demo.audit.router import router as audit_router
from pd_prime_demo.customers.router import router as customers_router
from pd_prime_demo.identity.router import router as identity_router

api_v1 = APIRouter(prefix="/api/v1")
api_v1.include_router(identity_router)
api_v1.include_router(customers_router)
api_v1.include_router(audit_router)
