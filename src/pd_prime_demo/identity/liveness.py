"""Whether credentials still authenticate, asked in bulk by work that outlives its request
(a live-updates socket): the same checks as every request's, one query for many."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import ARRAY, UUID, any_, bindparam, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.identity.models import ApiClient, AuthSession, User


async def live_credentials(
    session: AsyncSession, *, session_ids: Collection[uuid.UUID], client_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of these login sessions and API clients still authenticate a request (as
    ``authenticate_access_token`` checks: not revoked nor expired, the user or owner active),
    in one query: for work that outlives its request, such as a live-updates socket."""
    ids = ARRAY(UUID(as_uuid=True))
    sessions = (
        select(AuthSession.id)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.id == any_(bindparam("sessions", list(session_ids), type_=ids)))
        .where(AuthSession.revoked_at.is_(None), AuthSession.expires_at > clock.now())
        .where(User.is_active.is_(True))
    )
    live_clients = (
        select(ApiClient.id)
        .join(User, User.id == ApiClient.owner_id)
        .where(ApiClient.id == any_(bindparam("clients", list(client_ids), type_=ids)))
        .where(ApiClient.revoked_at.is_(None), User.is_active.is_(True))
    )
    return set(await session.scalars(union_all(sessions, live_clients)))
