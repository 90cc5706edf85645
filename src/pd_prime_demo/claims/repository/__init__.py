"""Claims' queries: the only modules that build SQL on the claims tables, filtered by what the
actor may see. One module per part (``claims``, ``workflow``, ``money``, ``reserving``); this
one holds the lookup every part shares."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.claims.models import Claim


async def get(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    visible_customers: Select[Any] | None,
    for_update: bool = False,
) -> Claim | None:
    """The claim, if its customer is among ``visible_customers`` (None: no restriction).
    ``for_update`` takes the claim's row lock: every money movement on the claim holds it, so
    concurrent payments are checked against the limits one after another."""
    query = select(Claim).where(Claim.id == claim_id)
    if visible_customers is not None:
        query = query.where(Claim.customer_id.in_(visible_customers))
    if for_update:
        query = query.with_for_update(of=Claim)
    return await session.scalar(query)
