"""Database pool metrics: connections in use, waits for one, timeouts.

(Groundwork stub of issue 15; the metrics helper fills it in.)
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine


def observe_pool(engine: AsyncEngine) -> None:
    """Export ``engine``'s pool figures (``core.telemetry``)."""
