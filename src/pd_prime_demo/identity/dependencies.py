"""Authentication for HTTP routes: the current actor from the bearer token, and permission
checks. Every domain's router depends on these; they belong to identity, which owns tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.response_patterns import fail
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import Err, Ok, forbidden, unauthenticated
from pd_prime_demo.identity import service as identity

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    description="Log in with a demo user's e-mail and password (see the README).",
)


async def current_authentication(
    session: Session,
    runtime: RuntimeDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> identity.Authenticated:
    if not token:
        fail(unauthenticated("auth.unauthenticated", "a bearer access token is required"))
    match await identity.authenticate_access_token(session, runtime, token):
        case Ok(authenticated):
            return authenticated
        case Err(error):
            fail(error, {"WWW-Authenticate": 'Bearer realm="pd-prime", error="invalid_token"'})
    raise AssertionError("unreachable")  # pragma: no cover


async def current_actor(
    authenticated: Annotated[identity.Authenticated, Depends(current_authentication)],
) -> Actor:
    return authenticated.actor


CurrentActor = Annotated[Actor, Depends(current_actor)]


def require(permission: Permission) -> Callable[[Actor], Awaitable[Actor]]:
    """Dependency factory: the current actor, or 403 when the role lacks ``permission``."""

    async def dependency(actor: CurrentActor) -> Actor:
        if not actor.has(permission):
            fail(forbidden("auth.permission_missing", f"this requires the {permission} permission"))
        return actor

    dependency.__name__ = f"require_{permission.value.replace(':', '_')}"
    return dependency
