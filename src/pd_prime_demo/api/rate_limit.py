"""Rate limits at the HTTP edge: per client address, per credential, per account, per route class.

Every request and WebSocket connect passes :class:`RateLimitMiddleware` (wired app-wide in
``main.py``), which puts it in a route class and counts it:

- login-type (path prefixes in ``settings.rate_limit_login_paths``: ``/api/v1/auth/token``,
  ``/api/v1/auth/revoke`` and the OAuth authorize, token, revoke and introspect endpoints, plus
  the routes that opt in, below): per client address, strictest; fails CLOSED (503
  ``rate_limit.unavailable``) when the counters cannot be reached;
- realtime (``/api/v1/realtime/...``: tickets and WebSocket connects): per client address;
- writes (any other method than GET/HEAD/OPTIONS) and reads: per client address and per
  credential (the ``Authorization`` header, counted as a digest, unverified: a forged one is
  still counted, and the address limit caps how many a client can invent); these fail OPEN (a
  warning is logged) so that a Redis outage does not take the API down.

Over a limit the answer is 429 problem+json ``rate_limit.exceeded`` with ``Retry-After``. Every
limited response carries the IETF draft headers (draft-ietf-httpapi-ratelimit-headers):
``RateLimit-Policy: "read-client";q=2400;w=60, ...`` and ``RateLimit: "read-client";r=2399;t=60,
...`` (``r`` remaining, ``t`` seconds until the oldest counted request leaves the window).

A new route that should count as login-type (MFA, password reset, registration, ...):

- either add its path prefix to ``rate_limit_login_paths`` (settings), or
- add ``dependencies=[Depends(login_type_limit)]`` to the route, and, where the request names
  an account (an e-mail, a user id), ``await limit_account(request, account)`` to count it per
  account too (e-mails are normalised and stored only as digests).

The client address is the direct peer, or, when the peer is one of ``settings.trusted_proxies``,
the first address in ``X-Forwarded-For`` counted from the right that is not a trusted proxy;
a header sent by anyone else is ignored. IPv6 clients are counted per /64.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

import structlog
from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.response_patterns import (
    ProblemError,
    domain_error_response,
)
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.ratelimit import Check, Decision, RateLimitStorageError, Rule
from pd_prime_demo.core.result_types import DomainError, ErrorKind
from pd_prime_demo.core.security_events import (
    SecurityEventType,
    client_address_bound,
    route_template,
    security_event,
)

if TYPE_CHECKING:
    from pd_prime_demo.core.runtime import Runtime

log = structlog.get_logger(__name__)

REALTIME_PREFIX = f"{API_V1}/realtime"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# How long a client should wait when the counters are unreachable and login-type routes refuse.
UNAVAILABLE_RETRY_AFTER = 5
_STATE_KEY = "rate_limit"


class RouteClass(StrEnum):
    LOGIN = "login"
    REALTIME = "realtime"
    WRITE = "write"
    READ = "read"


@dataclass(slots=True)
class RequestLimits:
    """What the middleware counted for this request; dependencies add their own decisions."""

    address: str
    route_class: RouteClass
    decisions: list[Decision] = field(default_factory=list)


def _rule(settings: Settings, route_class: RouteClass, dimension: str) -> Rule:
    notation: str = getattr(settings, f"rate_limit_{route_class.value}_per_{dimension}")
    return Rule.of(f"{route_class.value}-{dimension}", notation)


def classify(method: str, path: str, settings: Settings, *, websocket: bool) -> RouteClass | None:
    """The route class of a request (None: not limited)."""
    if any(path.startswith(p) for p in settings.rate_limit_exempt_paths):
        return None
    if websocket or path.startswith(REALTIME_PREFIX):
        return RouteClass.REALTIME
    if any(path.startswith(p) for p in settings.rate_limit_login_paths):
        return RouteClass.LOGIN
    return RouteClass.READ if method in _READ_METHODS else RouteClass.WRITE


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(
    peer: str | None,
    forwarded_for: Sequence[str],
    trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
) -> str:
    """The address to count: the peer, unless a trusted proxy says whom it forwards for.

    ``X-Forwarded-For`` is walked from the right (each proxy appends the peer it saw), skipping
    trusted proxies; the first other address is the client. Entries left of it were written by
    the client itself and are never believed."""
    current = _parse_ip(peer) if peer else None
    if current is None:
        return peer or "unknown"

    def is_trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in trusted)

    if is_trusted(current):
        hops = [h for value in forwarded_for for h in value.split(",") if h.strip()]
        for hop in reversed(hops):
            address = _parse_ip(hop)
            if address is None:
                break  # not written by a proxy we trust: the hop before it is the client
            current = address
            if not is_trusted(address):
                break
    if isinstance(current, ipaddress.IPv6Address):
        # One subscriber gets a /64; counting single addresses would let it pick 2^64 of them.
        return str(ipaddress.IPv6Network((current, 64), strict=False))
    return str(current)


def rate_limit_headers(decisions: Sequence[Decision]) -> dict[str, str]:
    """The IETF draft RateLimit-Policy and RateLimit fields for these decisions."""
    if not decisions:
        return {}
    return {
        "RateLimit-Policy": ", ".join(
            f'"{d.rule.name}";q={d.rule.quota};w={d.rule.window_seconds}' for d in decisions
        ),
        "RateLimit": ", ".join(
            f'"{d.rule.name}";r={d.remaining};t={d.reset_after}' for d in decisions
        ),
    }


def exceeded(decision: Decision) -> DomainError:
    return DomainError(
        ErrorKind.RATE_LIMITED,
        "rate_limit.exceeded",
        f"too many requests ({decision.rule.name}); retry after the time in Retry-After",
        extra={"retry_after": max(1, decision.reset_after), "policy": decision.rule.name},
    )


UNAVAILABLE = DomainError(
    ErrorKind.UNAVAILABLE,
    "rate_limit.unavailable",
    "the rate limiter cannot be reached, so this route is refused for safety; retry shortly",
)
_UNAVAILABLE_HEADERS = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)}

_last_warning = 0.0


def _warn_open(route_class: RouteClass, error: Exception) -> None:
    # Once every 10 s at most: an outage must not write a log line per request.
    global _last_warning
    now = time.monotonic()
    if now - _last_warning >= 10:
        _last_warning = now
        log.warning("rate_limit.storage_unavailable", route_class=route_class, error=str(error))


class RateLimitMiddleware:
    """Pure ASGI, so that WebSocket connects are counted as well and nothing is buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        runtime: Runtime | None = getattr(scope["app"].state, "runtime", None)
        if kind not in ("http", "websocket") or runtime is None:
            await self.app(scope, receive, send)
            return
        settings = runtime.settings
        peer = scope.get("client")
        address = client_address(
            peer[0] if peer else None,
            [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"],
            settings.trusted_proxies,
        )
        # Resolved for every request, limited or not, so that any security event logged while
        # it is served names the caller's network.
        with client_address_bound(address):
            await self._limit(runtime, address, scope, receive, send)

    async def _limit(
        self, runtime: Runtime, address: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        kind = scope["type"]
        settings = runtime.settings
        route_class = classify(
            scope.get("method", "GET"), scope["path"], settings, websocket=kind == "websocket"
        )
        if route_class is None or not settings.rate_limits_enabled:
            await self.app(scope, receive, send)
            return
        checks = [Check(_rule(settings, route_class, "client"), address)]
        credential = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        if credential and route_class in (RouteClass.READ, RouteClass.WRITE):
            checks.append(
                Check(_rule(settings, route_class, "credential"), credential.decode("latin-1"))
            )
        limits = RequestLimits(address, route_class)
        scope.setdefault("state", {})[_STATE_KEY] = limits
        try:
            limits.decisions.extend(await runtime.limiter.hit(checks))
        except RateLimitStorageError as error:
            if route_class is RouteClass.LOGIN:
                log.error("rate_limit.storage_unavailable", route_class=route_class)
                await _refuse(scope, receive, send, UNAVAILABLE, _UNAVAILABLE_HEADERS)
                return
            _warn_open(route_class, error)
            await self.app(scope, receive, send)
            return
        if denied := next((d for d in limits.decisions if not d.allowed), None):
            _record(denied, route_class, scope)
            await _refuse(scope, receive, send, exceeded(denied), rate_limit_headers([denied]))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Read now, not before: a dependency may have counted more (the account).
                extra = rate_limit_headers(limits.decisions)
                message["headers"] = [
                    *message.get("headers", []),
                    *((k.lower().encode(), v.encode()) for k, v in extra.items()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers if kind == "http" else send)


def _record(denied: Decision, route_class: RouteClass, scope: Scope) -> None:
    security_event(
        SecurityEventType.RATE_LIMITED,
        scope=route_class.value,
        limit=denied.rule.name,
        retry_after=max(1, denied.reset_after),
        method=scope.get("method"),  # None for a WebSocket connect
        route=route_template(scope),
    )


async def _refuse(
    scope: Scope, receive: Receive, send: Send, error: DomainError, headers: dict[str, str]
) -> None:
    response = domain_error_response(error, instance=scope["path"], headers=headers)
    if scope["type"] == "http":
        await response(scope, receive, send)
        return
    # A WebSocket: answer the handshake with the problem where the server can (the ASGI
    # denial response extension, which uvicorn offers), else refuse it with close code 1008.
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": response.status_code,
                "headers": response.raw_headers,
            }
        )
        await send({"type": "websocket.http.response.body", "body": response.body})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": error.code})


def _limits_of(request: Request) -> RequestLimits:
    limits = request.scope.get("state", {}).get(_STATE_KEY)
    if isinstance(limits, RequestLimits):
        return limits
    # Rate limits disabled, or an app built without the middleware: count by the peer alone.
    peer = request.client.host if request.client else None
    limits = RequestLimits(client_address(peer, [], []), RouteClass.LOGIN)
    request.scope.setdefault("state", {})[_STATE_KEY] = limits
    return limits


async def _count(request: Request, checks: list[Check]) -> None:
    """Count ``checks`` for a login-type route: fail closed, 429 past a limit."""
    runtime: Runtime = request.app.state.runtime
    if not runtime.settings.rate_limits_enabled:
        return
    limits = _limits_of(request)
    try:
        decisions = await runtime.limiter.hit(checks)
    except RateLimitStorageError:
        log.error("rate_limit.storage_unavailable", route_class=RouteClass.LOGIN)
        raise ProblemError(UNAVAILABLE, dict(_UNAVAILABLE_HEADERS)) from None
    limits.decisions.extend(decisions)
    if denied := next((d for d in decisions if not d.allowed), None):
        _record(denied, RouteClass.LOGIN, request.scope)
        raise ProblemError(exceeded(denied), rate_limit_headers([denied]))


async def login_type_limit(request: Request) -> None:
    """Dependency: count this route as login-type per client address (once per request)."""
    limits = _limits_of(request)
    if limits.route_class is RouteClass.LOGIN and limits.decisions:
        return  # the middleware counted it already (its path is in rate_limit_login_paths)
    settings: Settings = request.app.state.runtime.settings
    limits.route_class = RouteClass.LOGIN
    await _count(request, [Check(_rule(settings, RouteClass.LOGIN, "client"), limits.address)])


async def limit_account(request: Request, account: str) -> None:
    """Count a login-type attempt on ``account`` (an e-mail is normalised) from this client.

    Per account *and* client address: a limit on the account alone would let anyone lock its
    owner out (guessing one account from many addresses is what login throttling answers)."""
    settings: Settings = request.app.state.runtime.settings
    subject = json.dumps([account.strip().lower(), _limits_of(request).address])
    await _count(request, [Check(_rule(settings, RouteClass.LOGIN, "account"), subject)])


async def token_endpoint_limit(request: Request) -> None:
    """Dependency of the token endpoint: the account a password or client credentials grant
    names, counted per client address (the form is parsed once; FastAPI caches it)."""
    form = await request.form()
    grant = form.get("grant_type")
    account = form.get("username") if grant == "password" else None
    if grant == "client_credentials":
        account = form.get("client_id") or _basic_username(request.headers.get("authorization"))
    if isinstance(account, str) and account:
        await limit_account(request, account)


def _basic_username(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[0] or None
