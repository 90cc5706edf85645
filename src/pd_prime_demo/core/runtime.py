"""The process-wide collaborators, built once from settings and handed to services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any, cast

from procrastinate.job_context import JobContext
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.cache import Cache, create_cache
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.crypto import (
    FieldCipher,
    PasswordHashing,
    TokenSigner,
)
from pd_prime_demo.core.database import Database
from pd_prime_demo.core.keys import load_key_material
from pd_prime_demo.core.queue import JobQueue
from pd_prime_demo.core.ratelimit import RateLimiter
from pd_prime_demo.core.secret_policy import refuse_unsafe_secrets

HeldResources = Callable[[AsyncSession], Awaitable[Collection[tuple[str, str]]]]


@dataclass(slots=True)
class Runtime:
    settings: Settings
    db: Database
    cache: Cache
    cipher: FieldCipher
    signer: TokenSigner
    passwords: PasswordHashing
    queue: JobQueue
    # Built from settings by create(); the in-process default serves runtimes built by hand.
    limiter: RateLimiter = field(default_factory=RateLimiter.in_memory)
    # The application's routes, for the logical-access control (every route protected):
    # set by main.create_app and, in a worker process, by the worker command.
    routes: tuple[Any, ...] = ()
    # The records under a legal hold, as (resource type, id) pairs: audit retention keeps
    # what concerns them. Set by the worker's wiring (privacy owns holds; audit may not import
    # it); None where no retention runs.
    held_resources: HeldResources | None = None

    @classmethod
    def create(cls, settings: Settings, *, db: Database | None = None) -> Runtime:
        keys = load_key_material(settings)
        refuse_unsafe_secrets(settings, keys)
        db = db or Database.from_settings(settings)
        return cls(
            settings=settings,
            db=db,
            cache=create_cache(settings.redis_url),
            cipher=FieldCipher(keys.pii_keys, keys.pii_active_kid),
            signer=TokenSigner(
                keys.jwt_keys,
                keys.jwt_active_kid,
                settings.jwt_key_retire_at,
                rsa_keys=keys.rsa_keys,
                rsa_active_kid=keys.rsa_active_kid,
                rsa_retire_at=settings.oidc_rsa_key_retire_at,
            ),
            passwords=PasswordHashing(
                time_cost=settings.argon2_time_cost,
                memory_cost_kib=settings.argon2_memory_cost_kib,
                parallelism=settings.argon2_parallelism,
            ),
            queue=JobQueue(db.url),
            limiter=RateLimiter.from_settings(settings),
        )

    async def close(self) -> None:
        await self.queue.close()
        await self.cache.close()
        await self.limiter.close()
        await self.db.dispose()


def runtime_of(context: JobContext) -> Runtime:
    """The process's runtime, handed to every job by the worker (``additional_context``)."""
    return cast("Runtime", context.additional_context["runtime"])
