"""Transaction-scoped advisory locks on names: serialise work that has no row to lock yet.

Two requests that would both create the same thing (a user with one e-mail, a resource under
one Idempotency-Key) take the lock first; the second waits for the first to commit, then sees
what it created. The lock ends with the transaction, committed or rolled back.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))")
_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0))")


async def lock(session: AsyncSession, name: str) -> None:
    """Wait for, then hold until the transaction ends, the lock called ``name``."""
    await session.execute(_LOCK, {"name": name})


async def try_lock(session: AsyncSession, name: str) -> bool:
    """Take the lock if nobody holds it; False (without waiting) if somebody does."""
    return bool(await session.scalar(_TRY_LOCK, {"name": name}))
