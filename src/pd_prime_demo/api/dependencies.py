"""Request-scoped dependencies shared by every route: the runtime and the unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.runtime import Runtime

_Dependency = TypeVar("_Dependency", bound=Callable[..., object])

# The dependencies that authenticate their caller (the API's bearer credential, the console's
# cookie session): a route whose dependency tree holds one of them is protected, which CC6.1
# (compliance.controls.access) checks for every route. Each registers itself with the decorator.
AUTHENTICATING: set[Callable[..., object]] = set()


def authenticating(dependency: _Dependency) -> _Dependency:
    AUTHENTICATING.add(dependency)
    return dependency


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
