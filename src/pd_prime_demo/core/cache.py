"""Redis when ``REDIS_URL`` is set, an in-process fallback when not.

Redis is never the source of truth here: it holds counters that may be lost (login throttling)
and nothing whose loss changes a business record.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from redis.asyncio import Redis


class Cache(Protocol):
    async def hit(self, key: str, window_seconds: int) -> int:
        """Count one event under ``key`` in a fixed window; return the count so far."""
        ...

    async def count(self, key: str) -> int: ...

    async def clear(self, key: str) -> None: ...

    async def put(self, key: str, value: str, ttl_seconds: int) -> None:
        """Store ``value`` under ``key`` for ``ttl_seconds``."""
        ...

    async def take(self, key: str) -> str | None:
        """The value under ``key``, deleted in the same step: of two concurrent takers at most
        one gets it (single-use tokens)."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class MemoryCache:
    """Single-process fallback with the same semantics as :class:`RedisCache`."""

    def __init__(self) -> None:
        self._counters: dict[str, tuple[int, float]] = {}
        self._values: dict[str, tuple[str, float]] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key: str, window_seconds: int) -> int:
        async with self._lock:
            now = time.monotonic()
            count, expires = self._counters.get(key, (0, now + window_seconds))
            if expires <= now:
                count, expires = 0, now + window_seconds
            self._counters[key] = (count + 1, expires)
            return count + 1

    async def count(self, key: str) -> int:
        count, expires = self._counters.get(key, (0, 0.0))
        return count if expires > time.monotonic() else 0

    async def clear(self, key: str) -> None:
        self._counters.pop(key, None)

    async def put(self, key: str, value: str, ttl_seconds: int) -> None:
        now = time.monotonic()
        if len(self._values) >= 10_000:  # expired values go before the store grows further
            self._values = {k: v for k, v in self._values.items() if v[1] > now}
        self._values[key] = (value, now + ttl_seconds)

    async def take(self, key: str) -> str | None:
        # No await between the read and the delete: atomic on the event loop.
        value, expires = self._values.pop(key, (None, 0.0))
        return value if expires > time.monotonic() else None

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._counters.clear()
        self._values.clear()


class RedisCache:
    def __init__(self, url: str, *, namespace: str = "pd-prime") -> None:
        self._redis: Redis = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._ns = namespace

    def _key(self, key: str) -> str:
        return f"{self._ns}:{key}"

    async def hit(self, key: str, window_seconds: int) -> int:
        k = self._key(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(k)
            pipe.expire(k, window_seconds, nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def count(self, key: str) -> int:
        value = await self._redis.get(self._key(key))
        return int(value) if value is not None else 0

    async def clear(self, key: str) -> None:
        await self._redis.delete(self._key(key))

    async def put(self, key: str, value: str, ttl_seconds: int) -> None:
        await self._redis.set(self._key(key), value, ex=ttl_seconds)

    async def take(self, key: str) -> str | None:
        value = await self._redis.getdel(self._key(key))  # GETDEL: Redis >= 6.2
        return value.decode() if isinstance(value, bytes) else value

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (OSError, ConnectionError, TimeoutError):
            return False
        except Exception:  # redis.exceptions.RedisError and friends: not ready
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def create_cache(redis_url: str | None, *, namespace: str = "pd-prime") -> Cache:
    return RedisCache(redis_url, namespace=namespace) if redis_url else MemoryCache()
