"""Database pool metrics: connections in use, the wait for one, timeouts, the pool's ceiling.

SQLAlchemy's pool events fire *after* a connection was obtained ("checkout"), so they cannot
time the wait. The wait is measured around ``Engine.raw_connection()``, the one public call
through which every ``Connection`` (the ORM session's included) takes its DBAPI connection from
the pool: from its start to its return is what the caller waited, queueing behind other
checkouts, opening a new connection when the pool may grow, and a failed attempt's
``sqlalchemy.exc.TimeoutError`` (counted in ``DB_POOL_TIMEOUTS``, its wait observed too). The
wrapper sits on the engine, not on its pool object, because ``engine.dispose()`` replaces the
pool (event listeners are carried over to the new pool; an attribute on the old one is not).

Connections in use are counted up on "checkout" and down on "checkin" (which fires for an
invalidated connection too) or "detach" (a detached connection leaves the pool's care and is
never checked in). The pool's own ``checkedout()`` cannot be read instead: "checkin" fires
before the pool takes the connection back. Both gauges add up over every engine the process
has (the API has one, a test run many); an engine's ceiling is taken off when it is collected.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from pd_prime_demo.core.telemetry import (
    DB_POOL_IN_USE,
    DB_POOL_SIZE,
    DB_POOL_TIMEOUTS,
    DB_POOL_WAIT,
)

_OBSERVED: weakref.WeakSet[Engine] = weakref.WeakSet()


def _ceiling(engine: Engine) -> int:
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return 0
    overflow = pool._max_overflow  # QueuePool keeps it only here
    return pool.size() + max(overflow, 0)


def _checked_out(*_: Any) -> None:
    DB_POOL_IN_USE.inc()


def _given_back(*_: Any) -> None:
    DB_POOL_IN_USE.dec()


def observe_pool(engine: AsyncEngine) -> None:
    """Export ``engine``'s pool figures (``core.telemetry``)."""
    sync = engine.sync_engine
    if sync in _OBSERVED:
        return
    _OBSERVED.add(sync)
    event.listen(sync, "checkout", _checked_out)
    event.listen(sync, "checkin", _given_back)
    event.listen(sync, "detach", _given_back)
    ceiling = _ceiling(sync)
    DB_POOL_SIZE.inc(ceiling)
    weakref.finalize(sync, DB_POOL_SIZE.dec, ceiling)
    checkout = sync.raw_connection

    def timed_raw_connection() -> Any:
        started = time.perf_counter()
        try:
            return checkout()
        except exc.TimeoutError:
            DB_POOL_TIMEOUTS.inc()
            raise
        finally:
            DB_POOL_WAIT.observe(time.perf_counter() - started)

    sync.raw_connection = timed_raw_connection  # type: ignore[method-assign]
