"""Rate limit counters: the ``limits`` library's moving window, in Redis or in this process.

With Redis every worker process (and every server) counts against the same windows; without
it each process counts alone, which is right for one process and lenient for several. A moving
window holds the time of each hit, so "N per window" is exact at every instant and the wait
until the next free slot (``Retry-After``) is known, not estimated.

Storage failures raise :class:`RateLimitStorageError`: the caller decides to fail closed (login
type routes) or open (reads), never this module.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from pd_prime_demo.core.config import Settings


class RateLimitStorageError(Exception):
    """The counters cannot be read or written (Redis down or too slow)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A named limit: ``name`` appears in the RateLimit headers (no secrets, no identities)."""

    name: str
    item: RateLimitItem

    @classmethod
    def of(cls, name: str, notation: str) -> Rule:
        return cls(name, parse(notation))

    @property
    def quota(self) -> int:
        return self.item.amount

    @property
    def window_seconds(self) -> int:
        return self.item.get_expiry()


@dataclass(frozen=True, slots=True)
class Check:
    """One hit to count: a rule and who it is counted for (an address, an account, a token).

    The subject is stored only as a digest: no address, e-mail or token sits in Redis."""

    rule: Rule
    subject: str


@dataclass(frozen=True, slots=True)
class Decision:
    rule: Rule
    allowed: bool
    remaining: int
    # Seconds until the oldest hit in the window leaves it (a slot frees): the whole window
    # when it is empty.
    reset_after: int


class RateLimiter:
    """Counts hits against rules; one instance per runtime (and so per test)."""

    def __init__(self, storage_url: str | None, *, namespace: str, timeout: float) -> None:
        self._pool: ConnectionPool | None = None
        storage: Storage
        if storage_url and storage_url.startswith(("redis://", "rediss://")):
            # Our own pool, so that close() can release it and the timeouts are ours: a Redis
            # that does not answer must cost a request half a second, not a hang.
            self._pool = ConnectionPool.from_url(
                storage_url, socket_timeout=timeout, socket_connect_timeout=timeout
            )
            storage = RedisStorage(
                f"async+{storage_url}",
                implementation="redispy",
                key_prefix=namespace,
                wrap_exceptions=True,
                connection_pool=self._pool,  # type: ignore[arg-type]
            )
        elif storage_url in (None, "", "memory://"):
            storage = MemoryStorage()
        else:
            raise ValueError("rate limit storage must be a redis://, rediss:// or memory:// URL")
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self.shared = self._pool is not None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, namespace: str = "pd-prime-limits"
    ) -> RateLimiter:
        url = settings.rate_limit_storage_url or settings.redis_url
        return cls(url, namespace=namespace, timeout=settings.rate_limit_storage_timeout_seconds)

    @classmethod
    def in_memory(cls) -> RateLimiter:
        return cls(None, namespace="pd-prime-limits", timeout=1)

    async def hit(self, checks: Sequence[Check]) -> list[Decision]:
        """Count one hit for each check (a check already exhausted counts nothing more), then
        read each window for the headers."""
        try:
            keys = [(c.rule.item, c.rule.name, _digest(c.subject)) for c in checks]
            if self.shared:  # round trips to Redis: the checks' at once
                allowed = await asyncio.gather(*(self._strategy.hit(*key) for key in keys))
                stats = await asyncio.gather(
                    *(self._strategy.get_window_stats(*key) for key in keys)
                )
            else:  # in memory a task per check would cost more than the check
                allowed = [await self._strategy.hit(*key) for key in keys]
                stats = [await self._strategy.get_window_stats(*key) for key in keys]
        except (StorageError, RedisError, OSError, TimeoutError) as error:
            raise RateLimitStorageError(str(error)) from error
        now = time.time()
        return [
            Decision(
                rule=check.rule,
                allowed=ok,
                remaining=max(0, stat.remaining),
                reset_after=min(
                    check.rule.window_seconds, max(0, math.ceil(stat.reset_time - now))
                ),
            )
            for check, ok, stat in zip(checks, allowed, stats, strict=True)
        ]

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


def _digest(subject: str) -> str:
    return hashlib.sha256(subject.encode()).hexdigest()[:32]
