"""Claims routes. A claim's money: exposures, reserves, payments, recoveries, authority limits and
approvals.
"""

from __future__ import annotations

from fastapi import APIRouter

from pd_prime_demo.api import API_V1

router = APIRouter(prefix=API_V1, tags=["claims"])
