"""The API client a subscription belongs to, as the actor its deliveries are read as.

A delivery goes out only while the client is live (not revoked, its owner active), and only
with what the client could read itself: its owner's reach narrowed to its scopes. That is the
actor identity builds for the client's own tokens, asked for at each fan-out and attempt rather
than once at subscription time.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor
from pd_prime_demo.identity import service as identity


async def client_actor(session: AsyncSession, client_id: uuid.UUID) -> Actor | None:
    """The live client's actor with all of its scopes, or None (revoked, owner inactive,
    unknown)."""
    return await identity.client_actor(session, client_id)
