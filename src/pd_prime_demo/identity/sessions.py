"""Login sessions: opening one, issuing its tokens, listing and revoking them.

A session has two lifetimes (OWASP ASVS 5.0 V7.3): an absolute one, fixed when it opens
(``session_absolute_seconds``: its ``expires_at``, which every request checks), and an idle
one (``session_idle_seconds``): each refresh token expires that long after it was issued, so a
session whose tokens are not refreshed for that long can no longer be renewed and ends with
its last access token.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result, not_found
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity.models import AuthSession, RefreshToken, User
from pd_prime_demo.identity.rules import token_digest, user_actor


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str


def actor_for_user(user: User) -> Actor:
    return user_actor(user.id, user.role, user.underwriting_authority)


async def issue_tokens(
    session: AsyncSession, rt: Runtime, user: User, auth_session: AuthSession
) -> TokenPair:
    now = clock.now()
    ttl = rt.settings.access_token_ttl_seconds
    access = rt.signer.sign(
        {
            "iss": rt.settings.jwt_issuer,
            "aud": rt.settings.jwt_audience,
            "sub": str(user.id),
            "sid": str(auth_session.id),
            "role": user.role,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(now.timestamp()) + ttl,
            "jti": uuid.uuid4().hex,
            # An OAuth authorization's token: the client (RFC 9068 names it client_id, which
            # here marks a client credentials token) and the scopes the user consented to.
            **(
                {"azp": str(auth_session.client_id), "scope": auth_session.scope or ""}
                if auth_session.client_id is not None
                else {}
            ),
        }
    )
    refresh = secrets.token_urlsafe(32)
    idle = min(rt.settings.session_idle_seconds, rt.settings.refresh_token_ttl_seconds)
    session.add(
        RefreshToken(
            session_id=auth_session.id,
            token_hash=token_digest(refresh),
            issued_at=now,
            expires_at=min(now + timedelta(seconds=idle), auth_session.expires_at),
        )
    )
    auth_session.last_active_at = now
    await session.flush()
    return TokenPair(access, ttl, refresh)


async def open_session(
    session: AsyncSession, rt: Runtime, user: User, *, method: str
) -> tuple[AuthSession, TokenPair]:
    """A new login session for ``user`` (audited as ``auth.login``) and its first tokens."""
    now = clock.now()
    user.last_login_at = now
    absolute = min(rt.settings.session_absolute_seconds, rt.settings.refresh_token_ttl_seconds)
    auth_session = AuthSession(
        id=uuid.uuid4(),
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(seconds=absolute),
        method=method,
    )
    session.add(auth_session)
    await session.flush()
    tokens = await issue_tokens(session, rt, user, auth_session)
    await audit.record(
        session,
        actor_for_user(user),
        "auth.login",
        "auth_session",
        str(auth_session.id),
        {"method": method},
    )
    return auth_session, tokens


async def list_live(
    session: AsyncSession, *, actor: Actor, cursor: str | None, limit: int
) -> Result[tuple[list[AuthSession], str | None], DomainError]:
    """A page of the actor's own live login sessions, newest first (keyset on
    ix_auth_sessions_user_created: a user who logs in often is never cut short)."""
    query = select(AuthSession).where(
        AuthSession.user_id == actor.user_id,
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > clock.now(),
    )
    return await keyset_page(
        session,
        query,
        cursor=cursor,
        limit=limit,
        keys=(AuthSession.created_at, AuthSession.id),
        descending=True,
    )


async def revoke_session(
    session: AsyncSession, auth_session: AuthSession, reason: str, actor: Actor
) -> None:
    """End one login session (its access tokens stop at once: they carry its id)."""
    if auth_session.revoked_at is None:
        auth_session.revoked_at = clock.now()
        auth_session.revoked_reason = reason
        await audit.record(
            session,
            actor,
            "auth.session_revoked",
            "auth_session",
            str(auth_session.id),
            {"reason": reason},
        )


async def revoke_own(
    session: AsyncSession, session_id: uuid.UUID, *, actor: Actor
) -> Result[None, DomainError]:
    auth_session = await session.get(AuthSession, session_id, with_for_update=True)
    if auth_session is None or auth_session.user_id != actor.user_id:
        return Err(not_found("auth_session"))
    if auth_session.revoked_at is None:
        auth_session.revoked_at = clock.now()
        auth_session.revoked_reason = "revoked_by_user"
        await audit.record(
            session,
            actor,
            "auth.session_revoked",
            "auth_session",
            str(session_id),
            {"reason": "revoked_by_user"},
        )
    return Ok(None)


async def revoke_all(
    session: AsyncSession,
    user_id: uuid.UUID,
    *,
    reason: str,
    actor: Actor,
    keep: uuid.UUID | None = None,
) -> int:
    """End every live session of ``user_id`` but ``keep``; how many (one audit entry)."""
    now = clock.now()
    query = update(AuthSession).where(
        AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(AuthSession.id != keep)
    ended = (
        await session.execute(
            query.values(revoked_at=now, revoked_reason=reason).returning(AuthSession.id)
        )
    ).all()
    if ended:
        await audit.record(
            session,
            actor,
            "auth.sessions_revoked",
            "user",
            str(user_id),
            {"reason": reason, "count": len(ended)},
        )
    return len(ended)
