"""Claims routes. First notice of loss: filing a claim, its parties, vehicles or property,
attachments, the coverage check and fraud indicators.
"""

from __future__ import annotations

from fastapi import APIRouter

from pd_prime_demo.api import API_V1

router = APIRouter(prefix=API_V1, tags=["claims"])
