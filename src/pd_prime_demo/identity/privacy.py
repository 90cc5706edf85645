"""A person's login in privacy requests: read the account (never a secret or a hash), and on
erasure disable it, end its sessions and delete its factors."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.database import Base
from pd_prime_demo.identity.api_key_models import ApiKey
from pd_prime_demo.identity.mfa_models import (
    EmailToken,
    RecoveryCode,
    TotpCredential,
    WebauthnCredential,
)
from pd_prime_demo.identity.models import ApiClient, AuthSession, RefreshToken, User
from pd_prime_demo.identity.oauth_models import ExternalIdentity

# Not an argon2 hash: the verifier rejects it, so the disabled login can never sign in again.
_NO_PASSWORD = "!erased"  # noqa: S105 (a marker, not a password)
ERASURE_REASON = "erasure"


async def rows(session: AsyncSession, user_id: uuid.UUID) -> list[Base]:
    """The account, its sessions, factors (kinds and dates), API keys and SSO links, each by
    its user id index. Refresh tokens and recovery codes are only digests: not listed."""
    user = await session.get(User, user_id)
    if user is None:
        return []
    out: list[Base] = [user]
    out.extend(
        await session.scalars(
            select(AuthSession)
            .where(AuthSession.user_id == user_id)
            .order_by(AuthSession.created_at)
        )
    )
    out.extend(
        await session.scalars(select(TotpCredential).where(TotpCredential.user_id == user_id))
    )
    out.extend(
        await session.scalars(
            select(WebauthnCredential)
            .where(WebauthnCredential.user_id == user_id)
            .order_by(WebauthnCredential.created_at)
        )
    )
    out.extend(
        await session.scalars(
            select(ApiKey).where(ApiKey.owner_id == user_id).order_by(ApiKey.created_at)
        )
    )
    out.extend(
        await session.scalars(select(ExternalIdentity).where(ExternalIdentity.user_id == user_id))
    )
    return out


@dataclass(frozen=True, slots=True)
class AccountErasure:
    sessions_revoked: int
    refresh_tokens_deleted: int
    factors_deleted: int
    api_keys_revoked: int
    api_clients_revoked: int
    sso_links_deleted: int


async def erase_account(session: AsyncSession, user_id: uuid.UUID) -> AccountErasure | None:
    """Disable the login and remove what lets anyone act as it. The users row stays (audit
    entries and other records name it by id) with its e-mail and name replaced."""
    user = await session.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None:
        return None
    now = clock.now()
    user.email = f"erased-{user.id}@erased.invalid"
    user.full_name = "Erased user"
    user.password_hash = _NO_PASSWORD
    user.is_active = False
    user.email_verified_at = None
    user.updated_at = now
    session_ids = list(
        await session.scalars(select(AuthSession.id).where(AuthSession.user_id == user_id))
    )
    revoked = await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=ERASURE_REASON)
    )
    tokens = 0
    if session_ids:
        deleted = await session.execute(
            delete(RefreshToken).where(RefreshToken.session_id.in_(session_ids))
        )
        tokens = _count(deleted)
    factors = 0
    for model in (TotpCredential, RecoveryCode, WebauthnCredential, EmailToken):
        factors += _count(await session.execute(delete(model).where(model.user_id == user_id)))
    keys = await session.execute(
        update(ApiKey)
        .where(ApiKey.owner_id == user_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    clients = await session.execute(
        update(ApiClient)
        .where(ApiClient.owner_id == user_id, ApiClient.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    links = await session.execute(
        delete(ExternalIdentity).where(ExternalIdentity.user_id == user_id)
    )
    return AccountErasure(
        sessions_revoked=_count(revoked),
        refresh_tokens_deleted=tokens,
        factors_deleted=factors,
        api_keys_revoked=_count(keys),
        api_clients_revoked=_count(clients),
        sso_links_deleted=_count(links),
    )


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
