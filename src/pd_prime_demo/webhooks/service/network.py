"""Reaching a receiver: where a URL leads (SSRF checks) and the one HTTP request.

A subscription's host is resolved when it is made and again before every attempt, because
what a name resolves to changes (an attacker's name may later point inside the network). Every
address it resolves to must be public; the request then goes to the vetted address itself,
with the name in ``Host`` and in TLS (SNI and the certificate check), so that no second
lookup by the HTTP client can lead elsewhere. Redirects are not followed: a receiver's 3xx is
a failed attempt, never a way round the check.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import time
from dataclasses import dataclass

import certifi
import httpx

from pd_prime_demo import __version__
from pd_prime_demo.webhooks.rules import NetworkPolicy, Target, address_problem

USER_AGENT = f"PD-Prime-Webhooks/{__version__}"
RESOLVE_TIMEOUT = 5.0
EXCERPT_BYTES = 1024


async def vet(target: Target, policy: NetworkPolicy) -> list[str] | str:
    """The addresses ``target`` may be reached at (all of them allowed), or why it may not."""
    if target.literal is not None:
        problem = address_problem(target.host, policy)
        return problem if problem is not None else [target.host]
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT):
            infos = await loop.getaddrinfo(
                target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
    except (OSError, TimeoutError, UnicodeError):
        return f"{target.host} does not resolve"
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        return f"{target.host} does not resolve"
    if any(address_problem(address, policy) is not None for address in addresses):
        # Which address, is not said: the caller would learn what an internal name resolves
        # to (a map of the network behind us), from the refusal or from the delivery log.
        return f"{target.host} resolves to a non-public address"
    return addresses


@dataclass(frozen=True, slots=True)
class Exchange:
    """What one attempt got: a status code, or the error that stopped it."""

    status_code: int | None
    latency_ms: int
    error: str | None
    excerpt: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context per process: building one (loading the CA bundle) cost 22-45 ms of CPU,
    most of an attempt's, when every client built its own (``pd-prime bench webhooks``)."""
    return ssl.create_default_context(cafile=certifi.where())


async def post(
    target: Target,
    body: str,
    headers: dict[str, str],
    *,
    policy: NetworkPolicy,
    within: float,
) -> Exchange:
    """POST ``body`` to the target, checked again first; never raises for the receiver's
    faults (unreachable, slow, refusing), which are the attempt's outcome."""
    started = time.perf_counter()

    def ended(status: int | None, error: str | None, excerpt: str | None = None) -> Exchange:
        return Exchange(status, round((time.perf_counter() - started) * 1000), error, excerpt)

    vetted = await vet(target, policy)
    if isinstance(vetted, str):
        return ended(None, vetted)
    extensions = {"sni_hostname": target.host} if target.literal is None else {}
    try:
        async with (
            asyncio.timeout(within),
            httpx.AsyncClient(
                timeout=httpx.Timeout(within),
                follow_redirects=False,
                trust_env=False,
                verify=_tls(),
            ) as client,
        ):
            request = client.build_request(
                "POST",
                target.pinned_url(vetted[0]),
                content=body.encode(),
                headers={
                    **headers,
                    "host": target.host_header(),
                    "content-type": "application/json",
                    "user-agent": USER_AGENT,
                },
                extensions=extensions,
            )
            response = await client.send(request, stream=True)
            try:
                excerpt = await _excerpt(response)
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        return ended(None, f"no answer within {within:g} s")
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as exc:
        return ended(None, f"{type(exc).__name__}: {exc}"[:500])
    status = response.status_code
    if 300 <= status < 400:
        return ended(status, "a redirect is a failure: webhooks do not follow redirects", excerpt)
    if not 200 <= status < 300:
        return ended(status, f"the receiver answered {status}", excerpt)
    return ended(status, None, excerpt)


async def _excerpt(response: httpx.Response) -> str | None:
    """The start of the answer, read no further (a receiver may answer with a lot)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= EXCERPT_BYTES:
            break
    text = b"".join(chunks)[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    return text or None
