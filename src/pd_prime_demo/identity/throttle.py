"""Throttling of guesses at a secret (passwords, MFA codes), per NIST SP 800-63B section 5.2.2.

No account is ever locked. Failures are counted per (account, client address) pair: the first
``free`` are free (typos), then each one makes that pair wait twice as long as the one before,
up to a cap. Only the pair that failed waits, so an attacker elsewhere cannot deny the owner a
login. Past a looser ceiling of failures on the account from all addresses (a distributed
guesser), addresses that never logged in to the account wait as well; an address that has (a
"known client", remembered for a while after each success) is never held up.

Counters live in the cache (Redis when configured): losing them forgets some failures, never
a business record. Keys hold only digests, so no e-mail or address sits in Redis in clear.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pd_prime_demo.core.cache import Cache
from pd_prime_demo.core.result_types import DomainError, ErrorKind


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Policy:
    free: int
    base_seconds: int
    max_seconds: int
    window_seconds: int
    account_ceiling: int
    known_client_seconds: int

    def delay(self, failures: int, free: int) -> int:
        """Seconds to wait after the ``failures``-th failure (0 while within ``free``)."""
        if failures <= free:
            return 0
        doubled: int = self.base_seconds * 2 ** min(failures - free - 1, 30)
        return min(doubled, self.max_seconds)


@dataclass(frozen=True, slots=True)
class Throttle:
    """One kind of secret (``purpose``: login, mfa) for one account and one client address."""

    cache: Cache
    policy: Policy
    purpose: str
    account: str
    client: str

    @property
    def _pair(self) -> str:
        return f"{self.purpose}-fail:{_digest(self.account)}:{_digest(self.client)}"

    @property
    def _account(self) -> str:
        return f"{self.purpose}-fail:{_digest(self.account)}"

    @property
    def _known(self) -> str:
        return f"{self.purpose}-known:{_digest(self.account)}:{_digest(self.client)}"

    async def refusal(self) -> DomainError | None:
        """Why this attempt must wait (None: it may go ahead)."""
        if await self.cache.count(self._pair + ":wait"):
            failures = await self.cache.count(self._pair)
            return _too_many(self.policy.delay(failures, self.policy.free))
        if await self.cache.count(self._account + ":wait") and not await self.cache.count(
            self._known
        ):
            failures = await self.cache.count(self._account)
            return _too_many(self.policy.delay(failures, self.policy.account_ceiling))
        return None

    async def failed(self) -> None:
        policy = self.policy
        pair = await self.cache.hit(self._pair, policy.window_seconds)
        if wait := policy.delay(pair, policy.free):
            await self.cache.hit(self._pair + ":wait", wait)
        account = await self.cache.hit(self._account, policy.window_seconds)
        if wait := policy.delay(account, policy.account_ceiling):
            await self.cache.hit(self._account + ":wait", wait)

    async def succeeded(self) -> None:
        """The pair starts afresh and the address is known to the account from now on. The
        account's own count stays: a success elsewhere must not reset a distributed guesser."""
        await self.cache.clear(self._pair)
        await self.cache.clear(self._pair + ":wait")
        await self.cache.hit(self._known, self.policy.known_client_seconds)


def _too_many(retry_after: int) -> DomainError:
    return DomainError(
        ErrorKind.RATE_LIMITED,
        "auth.too_many_attempts",
        "too many failed attempts from this address; wait before trying again",
        extra={"retry_after": max(retry_after, 1)},
    )
