"""The OAuth provider's token use cases other than redeeming a code: refresh for a client,
revocation (RFC 7009), introspection (RFC 7662) and userinfo (OpenID Connect Core §5.3).

Rotation and reuse detection are ``identity.service.refresh``'s, the same as for password
logins: this module only holds the client to its own tokens and writes the token log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, Ok, Result
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import clients, oidc
from pd_prime_demo.identity import service as identity
from pd_prime_demo.identity.models import ApiClient, AuthSession, RefreshToken, User
from pd_prime_demo.identity.oauth import Granted, oauth_error, revoke_authorization
from pd_prime_demo.identity.oauth_log import record_token_event
from pd_prime_demo.identity.oauth_rules import GrantType, OidcScope, parse_scope
from pd_prime_demo.identity.rules import token_digest

INVALID_REFRESH_GRANT = oauth_error(
    "invalid_grant", "the refresh token is invalid, expired, revoked or another client's"
)


async def _refresh_owner(session: AsyncSession, token: str) -> tuple[uuid.UUID | None, str] | None:
    """The client and scope of the authorization a refresh token belongs to."""
    row = (
        await session.execute(
            select(AuthSession.client_id, AuthSession.scope)
            .join(RefreshToken, RefreshToken.session_id == AuthSession.id)
            .where(RefreshToken.token_hash == token_digest(token))
        )
    ).one_or_none()
    return None if row is None else (row.client_id, row.scope or "")


async def refresh_grant(
    session: AsyncSession, rt: Runtime, client: ApiClient, *, refresh_token: str, scope: str
) -> Result[Granted | identity.RefreshReuse, DomainError]:
    """RFC 6749 §6. A narrower ``scope`` is accepted and the authorization's scope kept (the
    grant is not split); a wider one is refused."""
    if GrantType.REFRESH_TOKEN not in client.grant_types:
        return Err(clients.UNAUTHORIZED_CLIENT)
    if scope:
        owner = await _refresh_owner(session, refresh_token)
        asked = parse_scope(scope)
        if owner is not None and (asked is None or not asked <= set(owner[1].split())):
            return Err(oauth_error("invalid_scope", "more than the user consented to"))
    match await identity.refresh(session, rt, refresh_token=refresh_token, client_id=client.id):
        case Err():
            return Err(INVALID_REFRESH_GRANT)
        case Ok(identity.RefreshReuse() as reuse):
            authorization = await session.get(AuthSession, reuse.session_id)
            # Within the grace period the authorization is kept, so the entry says the reuse
            # is only suspected (an attacker winning a refresh race looks like this too).
            await record_token_event(
                session,
                "reuse_detected",
                grant=GrantType.REFRESH_TOKEN,
                client_id=client.id,
                user_id=authorization.user_id if authorization else None,
                session_id=reuse.session_id,
                reason="authorization_revoked" if reuse.revoked else "reuse_suspected",
            )
            return Ok(reuse)
        case Ok(identity.TokenPair() as tokens):
            verified = rt.signer.verify(tokens.access_token)
            assert verified is not None  # just signed
            claims = verified.claims
            await record_token_event(
                session,
                "refreshed",
                grant=GrantType.REFRESH_TOKEN,
                client_id=client.id,
                user_id=uuid.UUID(str(claims["sub"])),
                session_id=uuid.UUID(str(claims["sid"])),
            )
            return Ok(
                Granted(
                    tokens.access_token,
                    tokens.expires_in,
                    tokens.refresh_token,
                    str(claims.get("scope", "")),
                    None,
                )
            )
    raise AssertionError("unreachable")  # pragma: no cover


NOT_THIS_CLIENTS = oauth_error(
    "unauthorized_client", "the token was not issued to this client", kind=ErrorKind.FORBIDDEN
)
# RFC 7009 §2.2.1: a client-credentials access token has no authorization to end (it is a
# self-contained JWT, not revocable alone); saying so beats a 200 that changed nothing.
UNSUPPORTED_TOKEN_TYPE = oauth_error(
    "unsupported_token_type",
    "a client credentials access token is not revoked alone: it expires on its own, and "
    "revoking the client ends it at once",
)


async def revoke(
    session: AsyncSession, rt: Runtime, client: ApiClient, *, token: str
) -> Result[None, DomainError]:
    """RFC 7009 §2.1: a refresh token or an access token of this client ends its whole
    authorization (§2.1 allows it, and a leaked token of either kind calls for it). Unknown or
    expired tokens are answered as revoked (§2.2): there is nothing left to end."""
    owner = await _refresh_owner(session, token)
    if owner is not None:
        if owner[0] != client.id:
            return Err(NOT_THIS_CLIENTS)
        stored = await session.scalar(
            select(RefreshToken.session_id).where(RefreshToken.token_hash == token_digest(token))
        )
        assert stored is not None  # just read
        await revoke_authorization(session, stored, reason="revoked_by_client")
        return await identity.revoke(session, rt, token=token)
    verified = rt.signer.verify(token)
    if verified is None or verified.header.get("typ") != "at+jwt":
        return Ok(None)
    claims = verified.claims
    if str(claims.get("azp", claims.get("client_id"))) != str(client.id):
        return Err(NOT_THIS_CLIENTS)
    if "sid" not in claims:  # the client credentials grant: no authorization behind it
        return Err(UNSUPPORTED_TOKEN_TYPE)
    try:
        session_id = uuid.UUID(str(claims["sid"]))
    except ValueError:
        return Ok(None)
    await revoke_authorization(session, session_id, reason="revoked_by_client")
    return Ok(None)


async def introspect(
    session: AsyncSession, rt: Runtime, client: ApiClient, *, token: str
) -> dict[str, Any]:
    """RFC 7662 §2.2, for the client's own tokens: any other is ``active: false`` (§4: no
    telling a client about tokens that are not its business)."""
    inactive: dict[str, Any] = {"active": False}
    owner = await _refresh_owner(session, token)
    if owner is not None:
        return (
            await _introspect_refresh(session, client, token) if owner[0] == client.id else inactive
        )
    verified = rt.signer.verify(token)
    if verified is None:
        return inactive
    claims = verified.claims
    if str(claims.get("azp", claims.get("client_id"))) != str(client.id):
        return inactive
    match await identity.authenticate_access_token(session, rt, token):
        case Err():
            return inactive
        case Ok():
            pass
    return {
        "active": True,
        "token_type": "Bearer",
        "client_id": str(client.id),
        "scope": str(claims.get("scope", "")),
        "sub": str(claims["sub"]),
        "iss": claims["iss"],
        "aud": claims["aud"],
        "iat": claims["iat"],
        "exp": claims["exp"],
        "jti": claims.get("jti"),
    }


async def _introspect_refresh(
    session: AsyncSession, client: ApiClient, token: str
) -> dict[str, Any]:
    stored = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_digest(token))
    )
    assert stored is not None  # the caller found it
    authorization = await session.get(AuthSession, stored.session_id)
    assert authorization is not None  # foreign key
    user = await session.get(User, authorization.user_id)
    now = clock.now()
    if (
        stored.used_at is not None
        or stored.expires_at <= now
        or authorization.revoked_at is not None
        or authorization.expires_at <= now
        or user is None
        or not user.is_active
    ):
        return {"active": False}
    return {
        "active": True,
        "token_type": "refresh_token",
        "client_id": str(client.id),
        "scope": authorization.scope or "",
        "sub": str(user.id),
        "iat": int(stored.issued_at.timestamp()),
        "exp": int(stored.expires_at.timestamp()),
    }


@dataclass(frozen=True, slots=True)
class UserInfo:
    claims: dict[str, Any]


INSUFFICIENT_SCOPE = oauth_error(
    "insufficient_scope", "userinfo needs a token with the openid scope", kind=ErrorKind.FORBIDDEN
)


async def userinfo(session: AsyncSession, rt: Runtime, token: str) -> Result[UserInfo, DomainError]:
    """The claims an OAuth access token's scopes release about its user."""
    match await identity.authenticate_access_token(session, rt, token):
        case Err() as err:
            return err
        case Ok(authenticated):
            pass
    verified = rt.signer.verify(token)  # None for an API key: no JWT, no OpenID scope
    scopes = frozenset(str(verified.claims.get("scope", "")).split()) if verified else frozenset()
    if verified is None or "azp" not in verified.claims or OidcScope.OPENID not in scopes:
        return Err(INSUFFICIENT_SCOPE)
    assert authenticated.actor.user_id is not None  # a user's authorization
    user = await session.get(User, authenticated.actor.user_id)
    assert user is not None  # authenticated
    return Ok(UserInfo(oidc.userinfo(user, scopes)))
