"""The data map route (staff with privacy:manage)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from pd_prime_demo.api.response_patterns import problem_responses
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.database import Base
from pd_prime_demo.identity.dependencies import require
from pd_prime_demo.privacy import datamap

router = APIRouter()


@router.get(
    "/data-map",
    responses=problem_responses(401, 403),
    summary="Which tables and columns hold which categories of personal data, and whose",
)
async def read_data_map(
    actor: Annotated[Actor, Depends(require(Permission.PRIVACY_MANAGE))],
) -> dict[str, Any]:
    return datamap.build(Base.metadata).as_dict()
