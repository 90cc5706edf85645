"""Security events: one log line of a stable schema per event, and its counters.

Every event is one structlog line on the logger ``pd_prime.security`` (route it to the SIEM by
that name) with ``event: "security"``, ``schema: 1`` and ``event_type`` from the closed set
below, and moves ``pd_prime_security_events{type}`` plus the counter of its family. The line
holds ids and bounded codes only, never an e-mail, a name, a password, a token or a client
address in clear. Unlike business counters (``core.after_commit``), an event is logged when
it happens, whether or not a transaction commits: a refused login rolls back, and the attempt
is the fact an operator needs.

Every line carries every field of the schema (``null`` where it does not apply), so a query or
a parser never meets a missing key; ``request_id`` (and the trace id where tracing is on) come
from the request's context, like on any line. A field is added in a later ``schema``; none is
renamed or given another meaning.

| event_type | when (``reason`` values) | counter{label} |
|---|---|---|
| login_failed | a password login refused: ``unknown_account``, ``wrong_password``, ``inactive_account`` | auth_failures{bad_password} |
| login_throttled | a password login held back by the throttle (no account is ever locked: NIST SP 800-63B 5.2.2) | auth_failures{throttled} |
| mfa_failed | a second factor refused: ``wrong_code``, ``invalid_mfa_token``; ``factor`` says which | auth_failures{mfa_failed} |
| mfa_throttled | a second step held back by the throttle | auth_failures{mfa_throttled} |
| token_invalid | a bearer access token refused: ``malformed`` (signature, type or claims), ``expired``, ``session_ended`` (revoked, user inactive); ``metrics_token``: ``/metrics`` without the metrics token or with a wrong one | auth_failures{token_invalid} |
| api_key_invalid | an API key unknown, expired or revoked, or its owner inactive | auth_failures{api_key_invalid} |
| refresh_token_invalid | ``unknown``, ``wrong_client``, ``expired``, ``revoked``, ``inactive_account`` | auth_failures{refresh_invalid} |
| refresh_token_reused | a used refresh token again: ``session_revoked`` (the login session ends), ``suspected`` (within the grace period), ``session_already_revoked`` | auth_failures{token_reused} |
| client_auth_failed | an OAuth or API client failed to authenticate (``invalid_client``) | auth_failures{client_invalid} |
| authorization_code_replayed | a spent authorization code again (``replayed``), or a failed PKCE proof (``pkce``) | auth_failures{code_replayed} |
| permission_denied | ``require(permission)`` refused the actor (403) | permission_denials{permission} |
| rate_limited | a rate limit refused the request (429) | rate_limit_rejections{scope} |

Each also counts ``pd_prime_security_events{type}``. Replays (``refresh_token_reused``,
``authorization_code_replayed``) log at ``error``, the others at ``warning``.

Fields (all on every line):

- ``reason``: the value from the table, or null.
- ``user_id``, ``session_id`` (login session), ``client_id`` (OAuth / API client),
  ``key_id`` (API key): ids, null when unknown (a wrong token names nobody).
- ``actor`` (the acting identity as audit names it: ``<user id>``, ``client:<id>``,
  ``api_key:<id>``), ``role``: for permission denials.
- ``permission``: the permission missing. ``factor``: the second factor tried (``otp``,
  ``recovery_code``, ``webauthn``). ``method``: the HTTP method.
- ``route``: the route template (``/api/v1/policies/{policy_id}``), or the request path when
  the refusal came before routing (rate limits).
- ``scope`` (login, write, read, realtime), ``limit`` (the policy refusing, as in the
  ``RateLimit-Policy`` header) and ``retry_after`` (seconds): for rate limits and throttles.
- ``client_network``: the caller's network, IPv4 /24 or IPv6 /48, as the rate limiter
  resolved the address (trusted proxies honoured). A prefix, not the address: it is what an
  operator can block at the edge, it groups an attack's addresses, and it names a network
  rather than a subscriber (the truncation used by analytics "IP anonymisation"). A hash of
  the address would not do: an unkeyed one of an IPv4 address is undone by trying all 2^32,
  and a keyed one cannot be matched to a firewall rule.
"""  # noqa: E501  (the table's rows, copied into docs/security.md, cannot be wrapped)

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import Any, Literal

import structlog

from pd_prime_demo.core.telemetry import (
    AUTH_FAILURES,
    PERMISSION_DENIALS,
    RATE_LIMITED,
    SECURITY_EVENTS,
)

SCHEMA_VERSION = 1
LOGGER_NAME = "pd_prime.security"

log = structlog.get_logger(LOGGER_NAME)


class SecurityEventType(StrEnum):
    LOGIN_FAILED = "login_failed"
    LOGIN_THROTTLED = "login_throttled"
    MFA_FAILED = "mfa_failed"
    MFA_THROTTLED = "mfa_throttled"
    TOKEN_INVALID = "token_invalid"  # noqa: S105  (an event's name)
    API_KEY_INVALID = "api_key_invalid"
    REFRESH_TOKEN_INVALID = "refresh_token_invalid"  # noqa: S105  (an event's name)
    REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105  (an event's name)
    CLIENT_AUTH_FAILED = "client_auth_failed"
    AUTHORIZATION_CODE_REPLAYED = "authorization_code_replayed"
    PERMISSION_DENIED = "permission_denied"
    RATE_LIMITED = "rate_limited"


Reason = Literal[
    "unknown_account",
    "wrong_password",
    "inactive_account",
    "wrong_code",
    "invalid_mfa_token",
    "malformed",
    "metrics_token",
    "expired",
    "session_ended",
    "unknown",
    "wrong_client",
    "revoked",
    "session_revoked",
    "suspected",
    "session_already_revoked",
    "invalid_client",
    "replayed",
    "pkce",
]

# The value of ``pd_prime_auth_failures{reason}`` each authentication failure counts under.
AUTH_FAILURE_REASONS: Mapping[SecurityEventType, str] = {
    SecurityEventType.LOGIN_FAILED: "bad_password",
    SecurityEventType.LOGIN_THROTTLED: "throttled",
    SecurityEventType.MFA_FAILED: "mfa_failed",
    SecurityEventType.MFA_THROTTLED: "mfa_throttled",
    SecurityEventType.TOKEN_INVALID: "token_invalid",
    SecurityEventType.API_KEY_INVALID: "api_key_invalid",
    SecurityEventType.REFRESH_TOKEN_INVALID: "refresh_invalid",
    SecurityEventType.REFRESH_TOKEN_REUSED: "token_reused",
    SecurityEventType.CLIENT_AUTH_FAILED: "client_invalid",
    SecurityEventType.AUTHORIZATION_CODE_REPLAYED: "code_replayed",
}

# A replayed credential means one has leaked: worth a page, where a wrong password is not.
_ERRORS = frozenset(
    {SecurityEventType.REFRESH_TOKEN_REUSED, SecurityEventType.AUTHORIZATION_CODE_REPLAYED}
)

_client_address: ContextVar[str | None] = ContextVar("security_client_address", default=None)


@contextmanager
def client_address_bound(address: str | None) -> Iterator[None]:
    """Within the block, events name ``address``'s network (the rate limiter binds the
    address it resolved for each request, so no call site has to pass it)."""
    token = _client_address.set(address)
    try:
        yield
    finally:
        _client_address.reset(token)


def client_network(address: str | None) -> str | None:
    """``address`` (an IP address or network, as the rate limiter resolves it) cut to its
    IPv4 /24 or IPv6 /48; None when it is no address (a test client's name, "unknown")."""
    if not address:
        return None
    try:
        network = ipaddress.ip_network(address.strip(), strict=False)
    except ValueError:
        return None
    prefix = 24 if network.version == 4 else 48
    if network.prefixlen > prefix:
        network = network.supernet(new_prefix=prefix)
    return str(network)


def route_template(scope: Mapping[str, Any]) -> str | None:
    """The matched route's template from an ASGI scope, else the path (before routing)."""
    route = getattr(scope.get("route"), "path", None)
    return route if isinstance(route, str) else scope.get("path")


def _id(value: uuid.UUID | str | None) -> str | None:
    return None if value is None else str(value)


def security_event(
    event_type: SecurityEventType,
    /,
    *,
    reason: Reason | None = None,
    user_id: uuid.UUID | None = None,
    session_id: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    key_id: uuid.UUID | None = None,
    actor: str | None = None,
    role: str | None = None,
    permission: str | None = None,
    factor: str | None = None,
    method: str | None = None,
    route: str | None = None,
    scope: str | None = None,
    limit: str | None = None,
    retry_after: int | None = None,
) -> None:
    """Log one security event and count it (see the module's table for types and fields).

    ``permission`` and ``scope`` become metric labels: pass the enum values they come from
    (``Permission``, the rate limiter's route class), never free text."""
    SECURITY_EVENTS.labels(event_type.value).inc()
    if event_type is SecurityEventType.PERMISSION_DENIED:
        PERMISSION_DENIALS.labels(permission or "unknown").inc()
    elif event_type is SecurityEventType.RATE_LIMITED:
        RATE_LIMITED.labels(scope or "unknown").inc()
    else:
        AUTH_FAILURES.labels(AUTH_FAILURE_REASONS[event_type]).inc()
    emit = log.error if event_type in _ERRORS else log.warning
    emit(
        "security",
        schema=SCHEMA_VERSION,
        event_type=event_type.value,
        reason=reason,
        user_id=_id(user_id),
        session_id=_id(session_id),
        client_id=_id(client_id),
        key_id=_id(key_id),
        actor=actor,
        role=role,
        permission=permission,
        factor=factor,
        method=method,
        route=route,
        scope=scope,
        limit=limit,
        retry_after=retry_after,
        client_network=client_network(_client_address.get()),
    )
