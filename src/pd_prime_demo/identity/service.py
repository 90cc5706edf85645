"""Users, access-token authentication, revocation and logout; the entry point of identity.

Password login (``identity.login``) and refresh-token rotation (``identity.refresh``) live in
their own modules and are re-exported here, the module other domains and routers call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from beartype import beartype
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.crypto import PasswordHashing
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    invalid,
    not_found,
    unauthenticated,
)
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import api_keys, clients
from pd_prime_demo.identity.api_key_models import ApiKey as ApiKey
from pd_prime_demo.identity.liveness import live_credentials as live_credentials
from pd_prime_demo.identity.login import DEMO_ACCOUNT_REFUSED as DEMO_ACCOUNT_REFUSED
from pd_prime_demo.identity.login import INVALID_CREDENTIALS as INVALID_CREDENTIALS
from pd_prime_demo.identity.login import login as login
from pd_prime_demo.identity.login import login_second_factor as login_second_factor
from pd_prime_demo.identity.mfa import mfa_required as mfa_required
from pd_prime_demo.identity.mfa_models import TotpCredential as TotpCredential
from pd_prime_demo.identity.mfa_models import WebauthnCredential as WebauthnCredential
from pd_prime_demo.identity.models import AuthSession as AuthSession
from pd_prime_demo.identity.models import RefreshToken
from pd_prime_demo.identity.models import User as User
from pd_prime_demo.identity.oauth_rules import narrowed_to_scope
from pd_prime_demo.identity.passwords import confirm_email_change as confirm_email_change
from pd_prime_demo.identity.passwords import send_already_registered as send_already_registered
from pd_prime_demo.identity.passwords import send_verification as send_verification
from pd_prime_demo.identity.passwords import weak_password as weak_password
from pd_prime_demo.identity.refresh import INVALID_REFRESH as INVALID_REFRESH
from pd_prime_demo.identity.refresh import REFRESH_REUSED as REFRESH_REUSED
from pd_prime_demo.identity.refresh import REFRESH_SUPERSEDED as REFRESH_SUPERSEDED
from pd_prime_demo.identity.refresh import RefreshReuse as RefreshReuse
from pd_prime_demo.identity.refresh import refresh as refresh
from pd_prime_demo.identity.rules import ROLE_PERMISSIONS as ROLE_PERMISSIONS
from pd_prime_demo.identity.rules import STAFF_ROLES as STAFF_ROLES
from pd_prime_demo.identity.rules import password_problems, token_digest
from pd_prime_demo.identity.rules import user_actor as user_actor
from pd_prime_demo.identity.sessions import TokenPair as TokenPair
from pd_prime_demo.identity.sessions import actor_for_user as actor_for_user
from pd_prime_demo.identity.sessions import issue_tokens as _issue_tokens
from pd_prime_demo.identity.sessions import revoke_session

INVALID_TOKEN = unauthenticated("auth.invalid_token", "the access token is invalid or expired")
UNSUPPORTED_TOKEN_TYPE = invalid(
    "auth.unsupported_token_type",
    "an API client's token or an API key is not revoked here (it has no login session): "
    "revoke the client or the key instead",
)

# Every authenticated request runs this, so it is built once and selects only the columns an
# Actor needs (no ORM entity to load). The login session must be live and the user active.
_LIVE_SESSION = (
    select(User.id, User.role, User.underwriting_authority, User.is_demo, AuthSession.client_id)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        User.is_active.is_(True),
        AuthSession.id == bindparam("session_id"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
    )
)


def normalise_email(email: str) -> str:
    return email.strip().lower()


@beartype
async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    full_name: str,
    role: Role,
    passwords: PasswordHashing,
    actor: Actor,
    underwriting_authority: int | None = None,
    email_verified: bool = True,
) -> Result[User, DomainError]:
    """A user; ``email_verified`` False (self-registration) keeps the login closed until the
    address is confirmed."""
    email = normalise_email(email)
    if problems := password_problems(password, email=email, names=(full_name,)):
        return Err(
            invalid(
                "user.weak_password",
                "the password is not acceptable",
                *(FieldIssue("#/password", p) for p in problems),
            )
        )
    # Two sign-ups with one e-mail: the second waits for the first, then finds the address taken.
    await locks.lock(session, f"user-email:{email}")
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        return Err(conflict("user.email_taken", "a user with this e-mail already exists"))
    now = clock.now()
    user = User(
        id=uuid.uuid4(),
        email=email,
        password_hash=passwords.hash(password),
        role=role.value,
        full_name=full_name,
        is_active=True,
        underwriting_authority=underwriting_authority,
        created_at=now,
        updated_at=now,
        email_verified_at=now if email_verified else None,
    )
    session.add(user)
    await session.flush()
    await audit.record(session, actor, "user.created", "user", str(user.id), {"role": role.value})
    return Ok(user)


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> Result[User, DomainError]:
    user = await session.get(User, user_id)
    return Ok(user) if user is not None else Err(not_found("user"))


async def find_active_user(session: AsyncSession, user_id: uuid.UUID, *, role: Role) -> User | None:
    return await session.scalar(
        select(User).where(User.id == user_id, User.role == role.value, User.is_active.is_(True))
    )


async def find_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalise_email(email)))


async def list_users(
    session: AsyncSession, *, role: Role | None, cursor: str | None, limit: int
) -> Result[tuple[list[User], str | None], DomainError]:
    query = select(User)
    if role is not None:
        query = query.where(User.role == role.value)
    return await keyset_page(session, query, User, cursor=cursor, limit=limit)


issue_session_tokens = _issue_tokens  # an OAuth authorization's first tokens (identity.oauth)


async def revoke(session: AsyncSession, rt: Runtime, *, token: str) -> Result[None, DomainError]:
    """RFC 7009: a refresh token or a login session's access token ends that login session
    (its access tokens carry its id, so they stop at once). No token_type_hint is needed: an
    access token is a JWT of ours, anything else is looked up as a refresh token. Unknown,
    invalid or expired tokens are fine (200, nothing changes)."""
    if api_keys.is_api_key(token):
        return Err(UNSUPPORTED_TOKEN_TYPE)
    reason = "logout"
    session_id = await _refresh_token_session(session, token)
    if session_id is None:
        match _access_token_session(rt, token):
            case Err() as err:
                return err
            case Ok(found):
                session_id, reason = found, "access_token_revoked"
    auth_session = (
        await session.get(AuthSession, session_id, with_for_update=True) if session_id else None
    )
    if auth_session is not None:
        user = await session.get(User, auth_session.user_id)
        assert user is not None  # foreign key
        await revoke_session(session, auth_session, reason, actor_for_user(user))
    return Ok(None)


async def _refresh_token_session(session: AsyncSession, token: str) -> uuid.UUID | None:
    return await session.scalar(
        select(RefreshToken.session_id).where(RefreshToken.token_hash == token_digest(token))
    )


def _access_token_session(rt: Runtime, token: str) -> Result[uuid.UUID | None, DomainError]:
    """The login session an unexpired access token of ours names (None: not one)."""
    verified = rt.signer.verify(token)
    if verified is None or verified.header.get("typ") != "at+jwt":
        return Ok(None)
    claims = verified.claims
    if claims.get("iss") != rt.settings.jwt_issuer or claims.get("aud") != rt.settings.jwt_audience:
        return Ok(None)
    if "client_id" in claims:  # client credentials: no login session to end
        return Err(UNSUPPORTED_TOKEN_TYPE)
    try:
        if int(claims["exp"]) < int(clock.now().timestamp()):
            return Ok(None)  # expired: it works nowhere already
        return Ok(uuid.UUID(str(claims["sid"])))
    except (KeyError, ValueError, TypeError):
        return Ok(None)


async def logout_session(
    session: AsyncSession, *, session_id: uuid.UUID, actor: Actor
) -> Result[None, DomainError]:
    auth_session = await session.get(AuthSession, session_id, with_for_update=True)
    if auth_session is None or auth_session.user_id != actor.user_id:
        return Err(not_found("auth_session"))
    await revoke_session(session, auth_session, "logout", actor)
    return Ok(None)


@dataclass(frozen=True, slots=True)
class Authenticated:
    actor: Actor
    session_id: uuid.UUID | None  # None for an API client's token: it has no login session


async def authenticate_access_token(
    session: AsyncSession, rt: Runtime, token: str
) -> Result[Authenticated, DomainError]:
    """Verify signature and claims, then confirm the user and login session are still live.
    An API key (``pdp_...``, not a JWT) is looked up by its digest instead."""
    if api_keys.is_api_key(token):
        match await api_keys.authenticate_key(session, rt, token):
            case Ok(actor):
                return Ok(Authenticated(actor, None))
            case Err() as err:
                return err
    verified = rt.signer.verify(token)
    if verified is None or verified.header.get("typ") != "at+jwt":
        return Err(INVALID_TOKEN)
    claims = verified.claims
    now = int(clock.now().timestamp())
    leeway = 30
    try:
        expired = int(claims["exp"]) + leeway < now
        early = int(claims.get("nbf", 0)) - leeway > now
    except (KeyError, ValueError, TypeError):
        return Err(INVALID_TOKEN)
    if (
        expired
        or early
        or claims.get("iss") != rt.settings.jwt_issuer
        or claims.get("aud") != rt.settings.jwt_audience
    ):
        return Err(INVALID_TOKEN)
    if "client_id" in claims:  # the client credentials grant: no user, no login session
        match await clients.authenticate_client(session, claims):
            case Ok(actor):
                return Ok(Authenticated(actor, None))
            case Err():
                return Err(INVALID_TOKEN)
    try:
        user_id = uuid.UUID(str(claims["sub"]))
        session_id = uuid.UUID(str(claims["sid"]))
    except (KeyError, ValueError, TypeError):
        return Err(INVALID_TOKEN)
    row = (
        await session.execute(
            _LIVE_SESSION,
            {"user_id": user_id, "session_id": session_id, "now": datetime.fromtimestamp(now, UTC)},
        )
    ).one_or_none()
    # A demo account's session from a demo run ends when the platform leaves demo mode.
    if row is None or (row.is_demo and not rt.settings.demo_accounts_allowed):
        return Err(INVALID_TOKEN)
    actor = user_actor(row.id, row.role, row.underwriting_authority)
    if "azp" in claims or row.client_id is not None:
        # An OAuth authorization's token holds only its consented scopes, and is marked as
        # delegated: the app may act for the user, never manage their account's security.
        actor = replace(
            narrowed_to_scope(actor, str(claims.get("scope", ""))),
            delegated_to=row.client_id,
        )
    return Ok(Authenticated(replace(actor, demo=True) if row.is_demo else actor, session_id))


async def login_started_at(session: AsyncSession, session_id: uuid.UUID) -> datetime | None:
    """When the login of ``session_id`` was made (refreshes keep it): its freshness."""
    return await session.scalar(select(AuthSession.created_at).where(AuthSession.id == session_id))


async def deactivate_user(
    session: AsyncSession, user_id: uuid.UUID, *, actor: Actor
) -> Result[User, DomainError]:
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        return Err(not_found("user"))
    if user.id == actor.user_id:
        return Err(conflict("user.cannot_deactivate_self", "you cannot deactivate yourself"))
    if user.is_active:
        user.is_active = False
        user.updated_at = clock.now()
        await session.execute(
            update(AuthSession)
            .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=clock.now(), revoked_reason="user_deactivated")
        )
        # The authorizations others gave the clients this user owns end too (S1).
        await clients.end_authorizations(
            session, clients.owned_by(user.id), reason="client_owner_deactivated"
        )
        await audit.record(session, actor, "user.deactivated", "user", str(user.id))
    return Ok(user)


async def client_actor(session: AsyncSession, client_id: uuid.UUID) -> Actor | None:
    """The actor of live API client ``client_id`` with all its scopes (None: not live)."""
    return await clients.client_actor(session, client_id)
