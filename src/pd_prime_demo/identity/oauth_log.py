"""The token log: one row per token issued, refreshed or revoked and per replay detected.

Written in the transaction of the change it records, so it holds exactly what happened; it
names the client, the user, the authorization (login session) and the grant, never a token.
"""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.identity.oauth_models import TokenLogEntry

TokenEvent = Literal["issued", "refreshed", "revoked", "reuse_detected", "code_replayed"]


async def record_token_event(
    session: AsyncSession,
    event: TokenEvent,
    *,
    grant: str | None = None,
    client_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> None:
    await session.execute(
        insert(TokenLogEntry).values(
            at=clock.now(),
            event=event,
            grant_type=None if grant is None else str(grant),
            client_id=client_id,
            user_id=user_id,
            session_id=session_id,
            reason=reason,
        )
    )
