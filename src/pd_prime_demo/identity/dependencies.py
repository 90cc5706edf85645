"""Authentication for HTTP routes: the current actor from the bearer token, and permission
checks. Every domain's router depends on these; they belong to identity, which owns tokens."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session, authenticating
from pd_prime_demo.api.response_patterns import fail
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, ActorKind, Permission
from pd_prime_demo.core.result_types import Err, Ok, forbidden, unauthenticated
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.security_events import Reason, route_template, security_event
from pd_prime_demo.core.security_events import SecurityEventType as Security
from pd_prime_demo.identity import api_keys
from pd_prime_demo.identity import service as identity

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    description="Log in with a demo user's e-mail and password (see the README). An API key "
    "(pdp_live_...) is sent the same way, as the bearer token.",
)


# Methods that change nothing (RFC 9110 section 9.2.1), and the writes a read-only demo still
# allows because they only end or read what the account already has: logging out, and a ticket
# for the live updates it may read.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_READ_ONLY_DEMO_ALLOWS = frozenset({f"{API_V1}/auth/logout", f"{API_V1}/realtime/tickets"})

DEMO_READ_ONLY = forbidden(
    "demo.read_only", "this is a read-only demo: demo accounts may look but not change anything"
)


@authenticating
async def current_authentication(
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> identity.Authenticated:
    if not token:
        fail(
            unauthenticated(
                "auth.unauthenticated", "a bearer access token (or API key) is required"
            )
        )
    match await identity.authenticate_access_token(session, runtime, token):
        case Ok(authenticated):
            if (
                authenticated.actor.demo
                and runtime.settings.demo_read_only
                and request.method not in _SAFE_METHODS
                and request.url.path not in _READ_ONLY_DEMO_ALLOWS
            ):
                fail(DEMO_READ_ONLY)
            return authenticated
        case Err(error):
            record_token_refusal(request, runtime, token)
            fail(error, {"WWW-Authenticate": 'Bearer realm="pd-prime", error="invalid_token"'})
    raise AssertionError("unreachable")  # pragma: no cover


def record_token_refusal(request: Request, runtime: Runtime, token: str) -> None:
    """Log a refused bearer credential (an access token or an API key) as a security event."""
    route, method = route_template(request.scope), request.method
    if api_keys.is_api_key(token):
        security_event(Security.API_KEY_INVALID, route=route, method=method)
        return
    security_event(
        Security.TOKEN_INVALID, reason=_token_fault(runtime, token), route=route, method=method
    )


def _token_fault(runtime: Runtime, token: str) -> Reason:
    """Why a refused access token was refused, for the operator only (the caller is told
    "invalid or expired" alike): expired tokens are routine, forged ones are not."""
    verified = runtime.signer.verify(token)
    if verified is None or verified.header.get("typ") != "at+jwt":
        return "malformed"
    claims, settings = verified.claims, runtime.settings
    if claims.get("iss") != settings.jwt_issuer or claims.get("aud") != settings.jwt_audience:
        return "malformed"
    try:
        expired = int(claims["exp"]) < int(clock.now().timestamp())
    except (KeyError, ValueError, TypeError):
        return "malformed"
    return "expired" if expired else "session_ended"


def _credential_id(actor: Actor, kind: ActorKind) -> uuid.UUID | None:
    """The id of the API client or key an actor is (``core.actor`` names them ``kind:id``)."""
    return uuid.UUID(actor.id.partition(":")[2]) if actor.kind is kind else None


async def current_actor(
    authenticated: Annotated[identity.Authenticated, Depends(current_authentication)],
) -> Actor:
    return authenticated.actor


CurrentActor = Annotated[Actor, Depends(current_actor)]

PERSON_SESSION_REQUIRED = forbidden(
    "auth.person_session_required",
    "this needs your own login session: not an API key, an API client's token nor the token "
    "of an app you authorized",
)
# Adding a second factor needs a recent login (OWASP ASVS 5.0 V7.5: re-authentication before
# changing authentication factors): a stolen session, refreshed for hours, may not enrol an
# attacker's authenticator. A refresh keeps the login's time, so only signing in again counts.
FRESH_LOGIN = timedelta(minutes=5)
REAUTHENTICATION_REQUIRED = unauthenticated(
    "auth.reauthentication_required",
    "this action needs a login under 5 minutes old: sign in again, then retry",
)


async def person_session(
    authenticated: Annotated[identity.Authenticated, Depends(current_authentication)],
) -> identity.Authenticated:
    """A user's own first-party login session: not an OAuth authorization (an app acting for
    the user), an API key or an API client's token, which carry the owner's user id too."""
    actor = authenticated.actor
    if (
        actor.kind is not ActorKind.USER
        or actor.user_id is None
        or actor.delegated_to is not None
        or authenticated.session_id is None
    ):
        fail(PERSON_SESSION_REQUIRED)
    return authenticated


PersonSession = Annotated[identity.Authenticated, Depends(person_session)]


async def fresh_person_session(
    authenticated: PersonSession, session: Session
) -> identity.Authenticated:
    """A person's login session signed in under FRESH_LOGIN ago (RFC 9470's step-up answer
    otherwise: 401 insufficient_user_authentication with max_age)."""
    assert authenticated.session_id is not None
    started = await identity.login_started_at(session, authenticated.session_id)
    if started is None or clock.now() - started >= FRESH_LOGIN:
        fail(
            REAUTHENTICATION_REQUIRED,
            {
                "WWW-Authenticate": 'Bearer realm="pd-prime", '
                'error="insufficient_user_authentication", '
                f'max_age="{int(FRESH_LOGIN.total_seconds())}"'
            },
        )
    return authenticated


FreshPersonSession = Annotated[identity.Authenticated, Depends(fresh_person_session)]


def require(permission: Permission) -> Callable[..., Awaitable[Actor]]:
    """Dependency factory: the current actor, or 403 when the role lacks ``permission``."""

    async def dependency(request: Request, actor: CurrentActor) -> Actor:
        if not actor.has(permission):
            security_event(
                Security.PERMISSION_DENIED,
                permission=permission.value,
                actor=actor.id,
                role=None if actor.role is None else actor.role.value,
                user_id=actor.user_id,
                client_id=actor.delegated_to or _credential_id(actor, ActorKind.CLIENT),
                key_id=_credential_id(actor, ActorKind.API_KEY),
                route=route_template(request.scope),
                method=request.method,
            )
            fail(forbidden("auth.permission_missing", f"this requires the {permission} permission"))
        return actor

    dependency.__name__ = f"require_{permission.value.replace(':', '_')}"
    return dependency
