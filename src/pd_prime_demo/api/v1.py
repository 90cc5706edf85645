"""Every domain router of API version 1."""

from __future__ import annotations

from fastapi import APIRouter

from pd_prime_demo.audit.router import router as audit_router
from pd_prime_demo.customers.router import router as customers_router
from pd_prime_demo.identity.router import router as identity_router

V1_ROUTERS: tuple[APIRouter, ...] = (identity_router, customers_router, audit_router)
