"""Declarations pages: one for every policy transaction, written with it.

``record_transaction`` renders the page in the database transaction that records the policy
transaction, so the two commit together and a transaction is never without its page. (A page
takes about a millisecond to draw; it used to be rendered after the response, in a second
transaction, which cost more than drawing it.) The worker's ``documents.render`` sweep still
renders any transaction that has no page, such as one recorded before pages were written in
the same transaction; it locks each transaction's row while rendering, so two sweeps never
produce two pages.
"""

from __future__ import annotations

import uuid

from sqlalchemy import String, cast, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from pd_prime_demo.customers import service as customers
from pd_prime_demo.documents import service as documents
from pd_prime_demo.documents.models import Document
from pd_prime_demo.policies.models import Policy, PolicyTransaction
from pd_prime_demo.products import service as products
from pd_prime_demo.products.models import ProductVersion
from pd_prime_demo.rating.definition import ProductVersionDefinition


async def _named_insured(session: AsyncSession, policy: Policy) -> dict[str, str]:
    name, address = await customers.mailing_label(session, policy.customer_id) or ("", "")
    return {"name": name, "address": address}


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
        await render_declarations(session, policy, txn, definition)
        rendered += 1
    return rendered


async def render_declarations(
    session: AsyncSession,
    policy: Policy,
    txn: PolicyTransaction,
    definition: ProductVersionDefinition,
) -> uuid.UUID:
    """The page of ``txn``, rated under ``definition``, stored in ``session``'s transaction."""
    return await documents.render_declarations(
        session,
        policy,
        txn,
        insured=await _named_insured(session, policy),
        coverage_names={c.code: c.name for c in definition.coverages},
        product_name=definition.product_name,
    )
