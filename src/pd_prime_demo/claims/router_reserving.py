"""Claims routes. Loss reporting and reserving: loss reports, triangles (built or imported) and
reserve analyses.
"""

from __future__ import annotations

from fastapi import APIRouter

from pd_prime_demo.api import API_V1

router = APIRouter(prefix=API_V1, tags=["loss reserving"])
