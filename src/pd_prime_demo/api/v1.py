"""Every domain router of API version 1."""

from __future__ import annotations

from fastapi import APIRouter

from pd_prime_demo.audit.router import router as audit_router
from pd_prime_demo.billing.router import router as billing_router
from pd_prime_demo.customers.router import router as customers_router
from pd_prime_demo.identity.router import router as identity_router
from pd_prime_demo.policies.router import router as policies_router
from pd_prime_demo.products.router import router as products_router
from pd_prime_demo.quotes.router import router as quotes_router
from pd_prime_demo.reports.router import router as reports_router

V1_ROUTERS: tuple[APIRouter, ...] = (
    identity_router,
    customers_router,
    products_router,
    quotes_router,
    policies_router,
    billing_router,
    reports_router,
    audit_router,
)
