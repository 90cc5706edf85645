"""The set-based reads of identity's tables behind CC6.2/CC6.3 and CC6.6: one query (one join)
per check, over the users a check concerns (staff, and users created or deactivated in the
period), never a walk of every user and policyholder with a query each.

Identity exposes these tables read-only through ``identity.service`` for the controls; every
change to them stays identity's (AICPA TSC CC6.2, CC6.3, CC6.6).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal, or_, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.identity import service as identity

# identity's tables, read-only (see the module's docstring).
User = identity.User
AuthSession = identity.AuthSession
ApiKey = identity.ApiKey
Totp = identity.TotpCredential
Passkey = identity.WebauthnCredential

STAFF = sorted(role.value for role in identity.STAFF_ROLES)


@dataclass(frozen=True, slots=True)
class ScopedUser:
    id: uuid.UUID
    role: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


async def users_in_scope(session: AsyncSession, since: datetime, now: datetime) -> list[ScopedUser]:
    """Users created in the period, deactivated in it, or staff changed in it (a role change
    touches ``updated_at``): the only users whose provisioning the period can have changed."""
    in_period = User.updated_at.between(since, now)
    rows = await session.execute(
        select(User.id, User.role, User.is_active, User.created_at, User.updated_at)
        .where(
            or_(
                User.created_at.between(since, now),
                and_(User.is_active.is_(False), in_period),
                and_(User.role.in_(STAFF), in_period),
            )
        )
        .order_by(User.id)
    )
    return [ScopedUser(*row) for row in rows]


async def deactivated_count(session: AsyncSession) -> int:
    found = await session.scalar(select(func.count()).where(User.is_active.is_(False)))
    return int(found or 0)


async def live_credentials_of_deactivated(
    session: AsyncSession, now: datetime
) -> list[tuple[uuid.UUID, str]]:
    """(user id, credential) for every live login session (password logins and OAuth
    authorizations) and every unrevoked, unexpired API key of a deactivated user."""
    sessions = (
        select(
            User.id,
            literal("session"),
            AuthSession.id,
            AuthSession.client_id,
        )
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            User.is_active.is_(False),
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
    )
    keys = (
        select(User.id, literal("api_key"), ApiKey.id, literal(None))
        .join(ApiKey, ApiKey.owner_id == User.id)
        .where(User.is_active.is_(False), ApiKey.revoked_at.is_(None), ApiKey.expires_at > now)
    )
    held: list[tuple[uuid.UUID, str]] = []
    # The union's rows are untyped to mypy (a compound select): (user, kind, id, client).
    rows: Sequence[Any] = (
        await session.execute(union_all(sessions, keys).order_by(text("1, 2, 3")))
    ).all()
    for row in rows:
        label = f"{row[1]}:{row[2]}"
        if row[3] is not None:
            label += f" (oauth client {row[3]})"
        held.append((row[0], label))
    return held


async def active_staff_mfa(
    session: AsyncSession,
) -> list[tuple[uuid.UUID, str, bool, list[str]]]:
    """(id, role, is_demo, MFA methods) of every active staff user: one query, the factors
    joined (a confirmed TOTP; any passkey)."""
    has_totp = (
        select(Totp.user_id).where(Totp.user_id == User.id, Totp.confirmed_at.is_not(None)).exists()
    )
    has_passkey = select(Passkey.id).where(Passkey.user_id == User.id).exists()
    rows = await session.execute(
        select(User.id, User.role, User.is_demo, has_totp, has_passkey)
        .where(User.is_active.is_(True), User.role.in_(STAFF))
        .order_by(User.role, User.id)
    )
    found = []
    for user_id, role, is_demo, totp, passkey in rows:
        methods = (["otp"] if totp else []) + (["webauthn"] if passkey else [])
        found.append((user_id, role, bool(is_demo), methods))
    return found
