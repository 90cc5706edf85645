"""Request-scoped dependencies: the runtime, the unit of work, the current actor, permissions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.api.response_patterns import fail
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import Err, Ok, forbidden, unauthenticated
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import service as identity

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/v1/auth/token",
    auto_error=False,
    description="Log in with a demo user's e-mail and password (see the README).",
)


async def get_runtime(request: Request) -> Runtime:
    # A coroutine on purpose, as are the other dependencies: FastAPI runs a plain ``def``
    # dependency in a worker thread, a thread hop per request for a one-line lookup.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def unit_of_work(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """One transaction per request, committed before the response is sent.

    ``scope="function"`` runs the exit of this dependency right after the route returns, so a
    commit failure becomes an error response instead of a 2xx for a change that was lost.
    A route that ends in a problem raises, and the transaction rolls back.
    """
    async with runtime.db.unit_of_work() as session:
        yield session


Session = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


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
