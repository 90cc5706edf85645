"""Stored outcomes of create requests made with an ``Idempotency-Key``.

A retry with the same key and the same body replays the first response; the same key with a
different body is refused. Records are written in the same transaction as the creation they
describe, so a stored response always corresponds to a committed change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.database import Base


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    principal: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    # Only a reference to what was created: the replay re-reads it with the caller's current
    # rights, so no response body (which may hold PII) is ever stored in clear.
    resource_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


async def lock_and_find(
    session: AsyncSession, principal: str, key: str
) -> IdempotencyRecord | None:
    """Serialise requests that share a key, then return the stored outcome if any.

    The transaction-scoped advisory lock makes a concurrent duplicate wait for the first
    request's commit and then replay it, instead of creating a second resource.
    """
    await locks.lock(session, f"idempotency:{principal}:{key}")
    return await session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.principal == principal, IdempotencyRecord.key == key
        )
    )


def remember(
    session: AsyncSession,
    *,
    principal: str,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    status_code: int,
    resource_id: str,
) -> None:
    session.add(
        IdempotencyRecord(
            principal=principal,
            key=key,
            method=method,
            path=path,
            request_hash=request_hash,
            status_code=status_code,
            resource_id=resource_id,
            created_at=clock.now(),
        )
    )
