"""Request-scoped dependencies shared by every route: the runtime and the unit of work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.runtime import Runtime


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
