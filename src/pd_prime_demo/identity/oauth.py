"""The OAuth 2.1 authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636, RFC 9700).

An authorization request is checked in two stages (RFC 6749 §4.1.2.1): while the client or
its redirect URI is in doubt, errors are shown to the user and never redirected (an open
redirector otherwise); once both are known good, errors go back to the client's redirect URI
with ``state``. The user signs in through ``identity.service.login`` (its throttling, and any
factor it asks for), consents, and the client gets a code: random, single-use, 60 seconds,
stored as a digest with the PKCE challenge. Redemption locks the code's row, so of two
parallel redemptions one wins and the other finds it used; a used code presented again
revokes the authorization it created (RFC 6749 §4.1.2), ending its access and refresh tokens.

An authorization is a login session (``auth_sessions``) with the client and the consented
scope: its refresh tokens rotate through ``identity.service.refresh`` (reuse revokes it) and
it ends at its absolute lifetime whatever the rotation.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, Ok, Result
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.security_events import SecurityEventType, security_event
from pd_prime_demo.identity import clients, oidc
from pd_prime_demo.identity import service as identity
from pd_prime_demo.identity.models import ApiClient, AuthSession, User
from pd_prime_demo.identity.oauth_log import record_token_event
from pd_prime_demo.identity.oauth_models import AuthorizationCode
from pd_prime_demo.identity.oauth_rules import (
    GrantType,
    OidcScope,
    format_scope,
    parse_scope,
    pkce_challenge_problem,
    pkce_verifies,
)
from pd_prime_demo.identity.oauth_sign_in import SignedIn
from pd_prime_demo.identity.rules import token_digest

_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "prompt",
)


def oauth_error(
    error: str,
    description: str,
    *,
    kind: ErrorKind = ErrorKind.INVALID,
    back: Mapping[str, str] | None = None,
) -> DomainError:
    """A DomainError carrying RFC 6749's ``error`` code and, when it is to be sent back to the
    client, ``back``: its redirect URI and state."""
    return DomainError(kind, f"oauth.{error}", description, extra={"error": error, **(back or {})})


INVALID_GRANT = oauth_error(
    "invalid_grant", "the code is invalid, expired, used, or was issued to another client"
)


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    client_id: uuid.UUID
    client_name: str
    redirect_uri: str
    scope: frozenset[str]
    state: str | None
    nonce: str | None
    code_challenge: str

    def as_params(self) -> dict[str, str]:
        """The request as it is echoed in the consent form's hidden fields."""
        params = {
            "response_type": "code",
            "client_id": str(self.client_id),
            "redirect_uri": self.redirect_uri,
            "scope": format_scope(self.scope),
            "code_challenge": self.code_challenge,
            "code_challenge_method": "S256",
        }
        if self.state is not None:
            params["state"] = self.state
        if self.nonce is not None:
            params["nonce"] = self.nonce
        return params


async def check_authorization_request(
    session: AsyncSession, params: Mapping[str, Sequence[str]]
) -> Result[AuthorizationRequest, DomainError]:
    """Every check of RFC 6749 §4.1.1 / §4.1.2.1 and RFC 7636 §4.4.1. An error with a
    ``redirect_uri`` member goes back to the client; one without it is shown to the user."""
    if dup := [name for name in _PARAMS if len(params.get(name, ())) > 1]:
        return Err(oauth_error("invalid_request", f"repeated parameter: {dup[0]}"))
    one = {name: values[0] for name, values in params.items() if values and name in _PARAMS}
    client = await _authorizing_client(session, one.get("client_id", ""))
    if client is None:
        return Err(oauth_error("invalid_client", "unknown client, or not one that may ask users"))
    redirect_uri = one.get("redirect_uri")
    if redirect_uri is None and len(client.redirect_uris) == 1:
        redirect_uri = client.redirect_uris[0]
    if redirect_uri not in client.redirect_uris:  # exact string match (RFC 9700 §4.1.3)
        return Err(oauth_error("invalid_request", "the redirect_uri is not registered"))
    state = one.get("state")
    back = {"redirect_uri": redirect_uri, **({"state": state} if state is not None else {})}
    if one.get("response_type") != "code":
        return Err(
            oauth_error("unsupported_response_type", "response_type must be code", back=back)
        )
    if problem := pkce_challenge_problem(
        one.get("code_challenge"), one.get("code_challenge_method")
    ):
        return Err(oauth_error("invalid_request", problem, back=back))
    scope = parse_scope(one.get("scope", ""))
    if not scope or not scope <= set(client.scopes):
        return Err(oauth_error("invalid_scope", "ask for scopes this client holds", back=back))
    if (nonce := one.get("nonce")) is not None and not 0 < len(nonce) <= 255:
        return Err(oauth_error("invalid_request", "nonce must be 1-255 characters", back=back))
    if state is not None and len(state) > 1000:
        return Err(oauth_error("invalid_request", "state is too long", back=back))
    if one.get("prompt") == "none":  # every authorization is consented to, interactively
        return Err(oauth_error("consent_required", "this provider always asks", back=back))
    return Ok(
        AuthorizationRequest(
            client_id=client.id,
            client_name=client.name,
            redirect_uri=redirect_uri,
            scope=scope,
            state=state,
            nonce=nonce,
            code_challenge=one["code_challenge"],
        )
    )


async def _authorizing_client(session: AsyncSession, client_id: str) -> ApiClient | None:
    try:
        ident = uuid.UUID(client_id)
    except ValueError:
        return None
    client = await clients.live_client_record(session, ident)
    if client is None or GrantType.AUTHORIZATION_CODE not in client.grant_types:
        return None
    return client


async def issue_code(
    session: AsyncSession, rt: Runtime, request: AuthorizationRequest, who: SignedIn
) -> str:
    """The user consented: a code for the client, single-use and short-lived."""
    code = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        AuthorizationCode(
            id=uuid.uuid4(),
            code_hash=token_digest(code),
            client_id=request.client_id,
            user_id=who.user_id,
            redirect_uri=request.redirect_uri,
            scope=format_scope(request.scope),
            nonce=request.nonce,
            code_challenge=request.code_challenge,
            auth_time=who.auth_time,
            amr=list(who.amr),
            created_at=now,
            expires_at=now + timedelta(seconds=rt.settings.oauth_code_ttl_seconds),
        )
    )
    user = await session.get(User, who.user_id)
    assert user is not None  # a live sign-in's user
    await audit.record(
        session,
        identity.actor_for_user(user),
        "oauth.consented",
        "api_client",
        str(request.client_id),
        {"scope": format_scope(request.scope)},
    )
    return code


@dataclass(frozen=True, slots=True)
class Granted:
    access_token: str
    expires_in: int
    refresh_token: str | None
    scope: str
    id_token: str | None


@dataclass(frozen=True, slots=True)
class CodeReplayed:
    """Ok-valued so that revoking the code's authorization (or spending a code whose proof
    failed) commits; the router answers 400."""

    session_id: uuid.UUID | None


async def redeem_code(
    session: AsyncSession,
    rt: Runtime,
    client: ApiClient,
    *,
    code: str,
    redirect_uri: str | None,
    code_verifier: str | None,
) -> Result[Granted | CodeReplayed, DomainError]:
    """RFC 6749 §4.1.3 with RFC 7636 §4.6. The row lock closes the race of two redemptions."""
    if GrantType.AUTHORIZATION_CODE not in client.grant_types:
        return Err(clients.UNAUTHORIZED_CLIENT)
    stored = await session.scalar(
        select(AuthorizationCode)
        .where(AuthorizationCode.code_hash == token_digest(code))
        .with_for_update()
    )
    if stored is None or stored.client_id != client.id:
        return Err(INVALID_GRANT)
    now = clock.now()
    if stored.used_at is not None:
        return Ok(await _replayed(session, stored))
    if stored.expires_at <= now:
        return Err(INVALID_GRANT)
    if (
        redirect_uri != stored.redirect_uri
        or not code_verifier
        or not pkce_verifies(code_verifier, stored.code_challenge)
    ):
        # Its own client failed the proof: the code is spent (Ok-valued, so that commits), or
        # whoever holds a stolen code could try verifiers until one fits (RFC 9700 §4.5.3).
        stored.used_at = now
        _code_event("pkce", stored)
        return Ok(CodeReplayed(None))
    user = await session.get(User, stored.user_id)
    if user is None or not user.is_active:
        return Err(INVALID_GRANT)
    authorization = AuthSession(
        id=uuid.uuid4(),
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(seconds=rt.settings.oauth_authorization_ttl_seconds),
        client_id=client.id,
        scope=stored.scope,
    )
    session.add(authorization)
    await session.flush()
    tokens = await identity.issue_session_tokens(session, rt, user, authorization)
    stored.used_at = now
    stored.session_id = authorization.id
    scopes = frozenset(stored.scope.split())
    id_token = (
        oidc.id_token(rt, user, client, stored, authorization, tokens.access_token)
        if OidcScope.OPENID in scopes
        else None
    )
    await audit.record(
        session,
        identity.actor_for_user(user),
        "oauth.authorized",
        "auth_session",
        str(authorization.id),
        {"client_id": str(client.id), "scope": stored.scope},
    )
    await record_token_event(
        session,
        "issued",
        grant=GrantType.AUTHORIZATION_CODE,
        client_id=client.id,
        user_id=user.id,
        session_id=authorization.id,
    )
    refresh = tokens.refresh_token if GrantType.REFRESH_TOKEN in client.grant_types else None
    return Ok(Granted(tokens.access_token, tokens.expires_in, refresh, stored.scope, id_token))


async def _replayed(session: AsyncSession, stored: AuthorizationCode) -> CodeReplayed:
    """A used code again: it leaked, or a client is confused. End what it granted."""
    await record_token_event(
        session,
        "code_replayed",
        grant=GrantType.AUTHORIZATION_CODE,
        client_id=stored.client_id,
        user_id=stored.user_id,
        session_id=stored.session_id,
    )
    if stored.session_id is not None:
        await revoke_authorization(session, stored.session_id, reason="authorization_code_replayed")
    _code_event("replayed", stored)
    return CodeReplayed(stored.session_id)


def _code_event(reason: Literal["replayed", "pkce"], stored: AuthorizationCode) -> None:
    security_event(
        SecurityEventType.AUTHORIZATION_CODE_REPLAYED,
        reason=reason,
        user_id=stored.user_id,
        session_id=stored.session_id,
        client_id=stored.client_id,
    )


async def revoke_authorization(
    session: AsyncSession, session_id: uuid.UUID, *, reason: str
) -> None:
    """Revoke an authorization (its access and refresh tokens stop at once) and log it."""
    authorization = await session.get(AuthSession, session_id, with_for_update=True)
    if authorization is None or authorization.revoked_at is not None:
        return
    authorization.revoked_at = clock.now()
    authorization.revoked_reason = reason
    user = await session.get(User, authorization.user_id)
    assert user is not None  # foreign key
    await audit.record(
        session,
        identity.actor_for_user(user),
        "auth.session_revoked",
        "auth_session",
        str(authorization.id),
        {"reason": reason},
    )
    await record_token_event(
        session,
        "revoked",
        client_id=authorization.client_id,
        user_id=authorization.user_id,
        session_id=authorization.id,
        reason=reason,
    )
