"""The API client a subscription belongs to, as the actor its deliveries are read as.

A delivery goes out only while the client is live (not revoked, its owner active), and only
with what the client could read itself: its owner's reach narrowed to its scopes. That actor
is what identity's token check builds for every request a client makes, so it is asked for
here in the same way, at each fan-out and attempt rather than once at subscription time.

This is the one module of the package that uses identity beyond ``identity.service``, which
has no use case for "the actor of client X" yet; ``.importlinter`` names it as the exception.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.identity import clients

_EVERY_SCOPE = " ".join(p.value for p in Permission)


async def client_actor(session: AsyncSession, client_id: uuid.UUID) -> Actor | None:
    """The live client's actor with all of its scopes, or None (revoked, owner inactive,
    unknown)."""
    claims = {"client_id": str(client_id), "sub": str(client_id), "scope": _EVERY_SCOPE}
    match await clients.authenticate_client(session, claims):
        case Ok(actor):
            return actor
    return None
