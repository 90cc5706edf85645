"""The privacy domain's HTTP routes: data subject requests and consent (``router_requests``),
legal holds, retention and the data map (``router_fulfilment``)."""

from __future__ import annotations

from fastapi import APIRouter

from pd_prime_demo.privacy.router_fulfilment import router as fulfilment_router
from pd_prime_demo.privacy.router_requests import router as requests_router

router = APIRouter()
router.include_router(requests_router)
router.include_router(fulfilment_router)
