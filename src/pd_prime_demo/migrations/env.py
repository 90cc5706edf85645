"""Alembic environment: async engine (asyncpg), the metadata of every domain."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import pd_prime_demo.audit.models
import pd_prime_demo.billing.models
import pd_prime_demo.claims.models
import pd_prime_demo.claims.money_models
import pd_prime_demo.claims.reserving_models
import pd_prime_demo.compliance.evidence_models
import pd_prime_demo.compliance.models
import pd_prime_demo.core.idempotency
import pd_prime_demo.core.outbox
import pd_prime_demo.core.queue
import pd_prime_demo.customers.models
import pd_prime_demo.documents.models
import pd_prime_demo.identity.api_key_models
import pd_prime_demo.identity.mfa_models
import pd_prime_demo.identity.models
import pd_prime_demo.identity.oauth_models
import pd_prime_demo.operations.models
import pd_prime_demo.policies.models
import pd_prime_demo.privacy.models
import pd_prime_demo.privacy.retention_models
import pd_prime_demo.products.models
import pd_prime_demo.quotes.models
import pd_prime_demo.webhooks.models  # noqa: F401  (registers tables)
from pd_prime_demo.core.database import Base, to_async_url

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    configured = config.get_main_option("sqlalchemy.url")
    return configured or to_async_url(os.environ["DATABASE_URL"])


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """The job queue's tables belong to procrastinate (migration 0010 applies its schema):
    autogenerate must neither drop nor compare them."""
    table = getattr(obj, "table", obj) if type_ != "table" else obj
    table_name = getattr(table, "name", name) or ""
    return not table_name.startswith("procrastinate_")


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        transaction_per_migration=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url(), poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
