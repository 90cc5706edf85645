"""Refresh-token rotation and reuse detection.

Refresh tokens rotate on every use. Presenting a token that was already used means it leaked
(or a client is confused): the whole login session is revoked, per OAuth 2.0 Security BCP
(RFC 9700 section 4.14.2), which also ends its access tokens because they carry the session id.
Every refusal is a security event (``core.security_events``), a reuse above all.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, unauthenticated
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.security_events import Reason, security_event
from pd_prime_demo.core.security_events import SecurityEventType as Security
from pd_prime_demo.identity.login import DEMO_ACCOUNT_REFUSED
from pd_prime_demo.identity.models import AuthSession, RefreshToken, User
from pd_prime_demo.identity.rules import token_digest
from pd_prime_demo.identity.sessions import TokenPair, actor_for_user, issue_tokens, revoke_session

INVALID_REFRESH = unauthenticated(
    "auth.invalid_refresh_token", "the refresh token is invalid, expired or revoked"
)
REFRESH_REUSED = unauthenticated(
    "auth.refresh_token_reused",
    "this refresh token was already used; the login session has been revoked for safety",
)
REFRESH_SUPERSEDED = unauthenticated(
    "auth.refresh_token_superseded",
    "this refresh token was just rotated by another request; use the tokens it received",
)


@dataclass(frozen=True, slots=True)
class RefreshReuse:
    """Ok-valued so that the session revocation (or, within the grace period, the record of a
    suspected reuse) commits; the router answers 401."""

    session_id: uuid.UUID
    # False: the immediately previous token again within the grace period. The login session
    # is kept (a client's own parallel refreshes look like this), but an attacker winning the
    # race looks alike, so it is audited and token-logged for an administrator to see.
    revoked: bool = True


async def refresh(
    session: AsyncSession,
    rt: Runtime,
    *,
    refresh_token: str,
    client_id: uuid.UUID | None = None,  # the OAuth client it was issued to (RFC 6749 §6)
) -> Result[TokenPair | RefreshReuse, DomainError]:
    stored = await session.scalar(
        select(RefreshToken)
        .where(RefreshToken.token_hash == token_digest(refresh_token))
        .with_for_update()
    )
    if stored is None:
        return _refused(Security.REFRESH_TOKEN_INVALID, "unknown", None, client_id)
    auth_session = await session.get(AuthSession, stored.session_id, with_for_update=True)
    assert auth_session is not None  # foreign key
    if auth_session.client_id != client_id:
        return _refused(Security.REFRESH_TOKEN_INVALID, "wrong_client", auth_session, client_id)
    user = await session.get(User, auth_session.user_id)
    assert user is not None  # foreign key
    actor = actor_for_user(user)
    now = clock.now()
    if stored.used_at is not None:
        if auth_session.revoked_at is not None:
            return _refused(
                Security.REFRESH_TOKEN_REUSED, "session_already_revoked", auth_session, client_id
            )
        if await _just_rotated(session, stored, now, rt.settings.refresh_reuse_grace_seconds):
            # The loser of a client's own parallel refreshes: refused, but the winner's new
            # tokens stay good. Any older token, or this one later, still revokes the family.
            await audit.record(
                session,
                actor,
                "auth.refresh_reuse_suspected",
                "auth_session",
                str(auth_session.id),
                {"within_grace_seconds": rt.settings.refresh_reuse_grace_seconds},
            )
            _event(Security.REFRESH_TOKEN_REUSED, "suspected", auth_session, client_id)
            return Ok(RefreshReuse(auth_session.id, revoked=False))
        await revoke_session(session, auth_session, "refresh_token_reuse", actor)
        _event(Security.REFRESH_TOKEN_REUSED, "session_revoked", auth_session, client_id)
        return Ok(RefreshReuse(auth_session.id))
    if auth_session.revoked_at is not None or stored.expires_at <= now or not user.is_active:
        fault: Reason = (
            "revoked"
            if auth_session.revoked_at is not None
            else ("expired" if stored.expires_at <= now else "inactive_account")
        )
        return _refused(Security.REFRESH_TOKEN_INVALID, fault, auth_session, client_id)
    if user.is_demo and not rt.settings.demo_accounts_allowed:
        # A demo account's session from a demo run gets no new tokens outside demo mode.
        return Err(DEMO_ACCOUNT_REFUSED)
    stored.used_at = now
    tokens = await issue_tokens(session, rt, user, auth_session)
    await audit.record(session, actor, "auth.token_refreshed", "auth_session", str(auth_session.id))
    return Ok(tokens)


def _refused(
    event_type: Security,
    reason: Reason,
    auth_session: AuthSession | None,
    client_id: uuid.UUID | None,
) -> Err[DomainError]:
    _event(event_type, reason, auth_session, client_id)
    return Err(INVALID_REFRESH)


def _event(
    event_type: Security,
    reason: Reason,
    auth_session: AuthSession | None,
    client_id: uuid.UUID | None,
) -> None:
    security_event(
        event_type,
        reason=reason,
        user_id=auth_session.user_id if auth_session else None,
        session_id=auth_session.id if auth_session else None,
        client_id=client_id,
    )


async def _just_rotated(
    session: AsyncSession, stored: RefreshToken, now: datetime, grace_seconds: int
) -> bool:
    """``stored`` was used under ``grace_seconds`` ago and is the session's latest used token
    (the one just before the live one: its successor is still unused)."""
    assert stored.used_at is not None
    if now - stored.used_at >= timedelta(seconds=grace_seconds):
        return False
    later = await session.scalar(
        select(RefreshToken.id)
        .where(
            RefreshToken.session_id == stored.session_id,
            RefreshToken.used_at > stored.used_at,
        )
        .limit(1)
    )
    return later is None
