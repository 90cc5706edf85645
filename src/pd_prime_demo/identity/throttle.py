"""Throttling of guesses at a secret (passwords, MFA codes), per NIST SP 800-63B section 5.2.2.

No account is ever locked. Failures are counted per (account, client address) pair: the first
``free`` are free (typos), then each one makes that pair wait twice as long as the one before,
up to a cap. Only the pair that failed waits, so an attacker elsewhere cannot deny the owner a
login. Past a looser ceiling of failures on the account from addresses that never logged in to it
(a distributed guesser), those addresses wait as well; an address that has (a
"known client", remembered for a while after each success) is never held up.

Every attempt is counted as a failure before the secret is checked (``Throttle.reserve``),
from the cache's atomic increments, and a success gives its count back: attempts sent in
parallel cannot all pass a check made before any of them failed.

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

    async def reserve(self) -> DomainError | None:
        """Count this attempt as a failure BEFORE the secret is checked, and say whether it
        must wait (None: it may go ahead). The counts come back from atomic increments, so of
        many attempts sent at once only those the counts allow go ahead: no check-then-act
        window for parallel guesses. A success then undoes the pair's count (``succeeded``)."""
        policy = self.policy
        known = await self.cache.count(self._known) > 0
        # A pair (or, for an unknown address, an account) already waiting is refused without
        # being counted: retrying while held does not lengthen the wait.
        if await self.cache.count(self._pair + ":wait"):
            failures = await self.cache.count(self._pair)
            return _too_many(policy.delay(failures, policy.free))
        if not known and await self.cache.count(self._account + ":wait"):
            return _too_many(policy.delay(await self._account_failures(), policy.account_ceiling))
        pair = await self.cache.hit(self._pair, policy.window_seconds)
        if refusal := await self._turn(self._pair, policy.delay(pair, policy.free)):
            return refusal
        if known:  # a known address is never held back by the account's ceiling
            return None
        attempts = await self.cache.hit(self._account, policy.window_seconds)
        account = max(attempts - await self.cache.count(self._account + ":ok"), 0)
        return await self._turn(self._account, policy.delay(account, policy.account_ceiling))

    async def _turn(self, key: str, wait: int) -> DomainError | None:
        """Past the free allowance an attempt needs the turn: the first to raise ``:wait``
        goes ahead (and the next one waits ``wait`` seconds), any other one sent meanwhile
        is refused."""
        if wait and await self.cache.hit(key + ":wait", wait) > 1:
            return _too_many(wait)
        return None

    async def _account_failures(self) -> int:
        """Attempts from unknown addresses on the account, less their successes."""
        attempts = await self.cache.count(self._account)
        return max(attempts - await self.cache.count(self._account + ":ok"), 0)

    async def succeeded(self) -> None:
        """The pair starts afresh and the address is known to the account from now on. The
        account's count of failures stays: a success elsewhere must not reset a distributed
        guesser (only this attempt's own reservation is given back)."""
        if not await self.cache.count(self._known):
            await self.cache.hit(self._account + ":ok", self.policy.window_seconds)
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
