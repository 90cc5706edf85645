"""Claims routes. Handling a claim: reading and listing, the status workflow, assignment, notes,
the diary and the claim as of a date.
"""

from __future__ import annotations

from fastapi import APIRouter

from pd_prime_demo.api import API_V1

router = APIRouter(prefix=API_V1, tags=["claims"])
