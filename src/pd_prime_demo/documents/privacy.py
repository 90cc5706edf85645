"""A person's documents in privacy requests: the list with each document's facts (the PDF is
served by the documents API; an export lists it rather than embedding it). Documents issued
under a policy are kept with the policy's records."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.documents.models import Document


async def rows(session: AsyncSession, policy_ids: Sequence[uuid.UUID]) -> list[Document]:
    if not policy_ids:
        return []
    found = await session.scalars(
        select(Document)
        .where(Document.policy_id.in_(policy_ids))
        .order_by(Document.policy_id, Document.created_at, Document.id)
    )
    return list(found)
