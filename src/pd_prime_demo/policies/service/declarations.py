"""Declarations pages: one for every policy transaction, written with it.

``record`` renders the page in the database transaction that records the policy transaction,
so the two commit together and a transaction is never without its page. The worker's
``documents.render`` sweep still renders any transaction that has no page, such as one recorded
before pages were written in the same transaction; it locks each transaction's row while
rendering, so two sweeps never produce two pages.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.documents import service as documents
from pd_prime_demo.policies import repository
from pd_prime_demo.policies.service.common import render_declarations, state_of
from pd_prime_demo.products import service as products


async def render_pending(
    session: AsyncSession, *, policy_id: uuid.UUID | None = None, limit: int = 200
) -> int:
    """Render the declarations of every transaction that has none yet."""
    pending = await repository.without_document(
        session,
        documented=documents.sources_with("declarations"),
        policy_id=policy_id,
        limit=limit,
    )
    for txn, policy in pending:
        version = await products.compiled_version(session, txn.product_version_id)
        await render_declarations(session, policy, txn, state_of(txn), version)
    return len(pending)
