"""Declarations pages, rendered after the transaction commits.

Rendering a PDF takes longer than the rest of a bind, so the request only records the
transaction; the declarations page is rendered right after the response (a background task)
and, should the process stop first, by the worker's ``documents.render`` sweep. A transaction
row is locked while its page is rendered, so two renderers never produce two pages.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import String, cast, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.customers import service as customers
from pd_prime_demo.documents import service as documents
from pd_prime_demo.documents.models import Document
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.products import service as products
from pd_prime_demo.products.models import ProductVersion

log = structlog.get_logger(__name__)


async def _named_insured(session: AsyncSession, policy: Policy) -> dict[str, str]:
    result = await customers.get_customer(
        session, policy.customer_id, actor=Actor.system("documents")
    )
    if not isinstance(result, Ok):
        return {"name": "", "address": ""}
    c = result.value
    street = ", ".join(x for x in (c.address_line1, c.address_line2) if x)
    return {"name": c.display_name, "address": f"{street}, {c.city}, {c.state} {c.postal_code}"}


async def render_pending(
    session: AsyncSession, *, policy_id: uuid.UUID | None = None, limit: int = 200
) -> int:
    """Render the declarations of every transaction that has none yet."""
    has_page = exists(
        select(Document.id).where(
            Document.kind == "declarations",
            Document.source_id == cast(PolicyTransaction.id, String),
        )
    )
    # One query for each page's transaction, policy and rate version (its large definition is
    # loaded only if the engine cache lacks it); the transaction row stays locked while rendering.
    query = (
        select(PolicyTransaction, Policy, ProductVersion)
        .join(Policy, Policy.id == PolicyTransaction.policy_id)
        .join(ProductVersion, ProductVersion.id == PolicyTransaction.product_version_id)
        .options(defer(ProductVersion.definition))
        .where(~has_page)
        .order_by(PolicyTransaction.created_at)
        .limit(limit)
        .with_for_update(of=PolicyTransaction, skip_locked=True)
    )
    if policy_id is not None:
        query = query.where(PolicyTransaction.policy_id == policy_id)
    rendered = 0
    for txn, policy, version in (await session.execute(query)).all():
        definition = (await products.compiled_products.get(session, version)).definition
        await documents.render_declarations(
            session,
            policy,
            txn,
            insured=await _named_insured(session, policy),
            coverage_names={c.code: c.name for c in definition.coverages},
            product_name=definition.product_name,
        )
        rendered += 1
    return rendered


async def render_after_commit(runtime: Runtime, policy_id: uuid.UUID) -> None:
    """Background task: a failure is logged and left to the worker's sweep."""
    try:
        async with runtime.db.unit_of_work() as session:
            await render_pending(session, policy_id=policy_id)
    except Exception:  # the sweep retries; the committed transaction is safe
        log.exception("declarations.render_failed", policy_id=str(policy_id))
