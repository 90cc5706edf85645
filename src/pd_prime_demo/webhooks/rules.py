"""Webhook rules, free of I/O: which events a subscription wants, which URLs and addresses
may be called, the message and its Standard Webhooks signature, and the retry schedule."""

from __future__ import annotations

import base64
import ipaddress
import json
import math
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit

from standardwebhooks import Webhook

from pd_prime_demo.core.actor import COMPANY_WIDE_ROLES, Actor, ActorKind, Role
from pd_prime_demo.core.config import Environment

# Svix's schedule: at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h; the
# eighth failed attempt leaves the delivery failed (the dead letter), about 27 hours in all.
RETRY_DELAYS: tuple[int, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How deliveries are attempted; tests shorten the times."""

    retry_delays: Sequence[int] = RETRY_DELAYS
    timeout_seconds: float = 10.0
    # An endpoint whose every attempt failed for this long is disabled (Svix: 5 days).
    disable_after: timedelta = timedelta(days=5)
    # A claimed attempt is retried by the sweep if its worker vanished for this long.
    lease_seconds: int = 120
    # After a rotation the previous secret keeps signing beside the new one for this long.
    rotation_overlap: timedelta = timedelta(hours=24)
    # The circuit breaker: an endpoint that failed this many attempts in a row is paused.
    breaker_after: int = 5

    @property
    def max_attempts(self) -> int:
        return len(self.retry_delays) + 1

    @property
    def probe_seconds(self) -> int:
        """How long the one attempt trying a paused endpoint keeps the others waiting: its
        timeout, the name's resolution (5 s at most) and a margin. Then they look again: the
        endpoint is paused further, or works."""
        return math.ceil(self.timeout_seconds) + 10

    def retry_in(self, attempts: int) -> int | None:
        """Seconds until the next attempt after ``attempts`` failed ones; None: give up."""
        return self.retry_delays[attempts - 1] if attempts <= len(self.retry_delays) else None

    def paused_until(
        self, consecutive_failures: int, failing_since: datetime, now: datetime
    ) -> datetime | None:
        """Until when an endpoint is left alone after ``consecutive_failures`` failed attempts
        in a row (None: it is not, below ``breaker_after``): the next point after ``now`` of
        the schedule, run from ``failing_since`` as if the endpoint were one message (5 s,
        5 min, 30 min... after it began failing, then every last delay). Derived from the
        time, not the count, so attempts that were under way when it tripped, failing one
        after the other, do not push it further."""
        if consecutive_failures < self.breaker_after or not self.retry_delays:
            return None
        at = failing_since
        for delay in self.retry_delays:
            at += timedelta(seconds=delay)
            if at > now:
                return at
        last = timedelta(seconds=self.retry_delays[-1])
        return at + last * ((now - at) // last + 1)


DEFAULT_POLICY = DeliveryPolicy()
# An API client has at most this many subscriptions: each may hold worker slots.
MAX_SUBSCRIPTIONS_PER_CLIENT = 20
# The job that makes one attempt of a delivery (``jobs.deliver``).
DELIVER_TASK = "webhooks:deliver"


def failing_for_too_long(
    failing_since: datetime | None, now: datetime, policy: DeliveryPolicy
) -> bool:
    return failing_since is not None and now - failing_since >= policy.disable_after


# An event type is dotted lower-case words (``policy.bound``); a pattern may end in ``.*``
# (every type under that prefix), or be ``*`` alone (every type).
_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$")
MAX_EVENT_TYPES = 50


def event_type_problem(pattern: str) -> str | None:
    if pattern == "*" or (len(pattern) <= 100 and _TYPE.fullmatch(pattern)):
        return None
    return "an event type is dotted lower-case words, optionally ending in .*, or * alone"


def patterns_for(topic: str) -> list[str]:
    """Every pattern that matches ``topic``: ``*``, itself, and ``.*`` under each of its
    prefixes (``policy.renewal.offered``: ``policy.*``, ``policy.renewal.*``)."""
    words = topic.split(".")
    return ["*", topic, *(".".join(words[:n]) + ".*" for n in range(1, len(words)))]


def matches(pattern: str, topic: str) -> bool:
    return pattern in patterns_for(topic)


# --- who manages and who receives ----------------------------------------------------------


def client_id_of(actor: Actor) -> uuid.UUID | None:
    """The API client an actor is, or None for a person or the system."""
    if actor.kind is not ActorKind.CLIENT:
        return None
    return uuid.UUID(actor.id.removeprefix("client:"))


def manages_all(actor: Actor) -> bool:
    """Administrators (and the system) manage every client's subscriptions; an owner manages
    their clients'; a client its own."""
    return actor.kind is ActorKind.SYSTEM or (
        actor.kind is ActorKind.USER and actor.role is Role.ADMIN
    )


def has_company_reach(recipient: Actor) -> bool:
    """Events about no customer (a product published) are the company's own: only clients of
    staff who see the whole company receive them."""
    return recipient.role in COMPANY_WIDE_ROLES


# --- where a webhook may be sent -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """Outside demo and test, only https to public addresses; there, also http and loopback
    (so that a developer's and the tests' local receivers can be reached)."""

    require_https: bool
    allow_loopback: bool

    @classmethod
    def for_env(cls, env: Environment) -> NetworkPolicy:
        local = env in (Environment.DEMO, Environment.TEST)
        return cls(require_https=not local, allow_loopback=local)


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # lower case, without brackets for an IPv6 literal
    port: int
    path: str  # path and query, as given

    @property
    def literal(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def pinned_url(self, address: str) -> str:
        """The URL with its host replaced by a vetted address, so that the connection goes
        where the check looked (a second lookup could answer differently: DNS rebinding)."""
        host = f"[{address}]" if ":" in address else address
        return f"{self.scheme}://{host}:{self.port}{self.path}"


def parse_url(url: str, policy: NetworkPolicy) -> Target | str:
    """The target of a subscription URL, or why it is refused."""
    if len(url) > 2000:
        return "a URL is at most 2000 characters"
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        return "a webhook URL is https"
    if scheme == "http" and policy.require_https:
        return "a webhook URL must use https"
    if parts.username is not None or parts.password is not None:
        return "a webhook URL may not carry credentials"
    if parts.fragment:
        return "a webhook URL has no fragment"
    host = (parts.hostname or "").rstrip(".")
    if not host or any(ch.isspace() for ch in url) or not host.isascii():
        return "a webhook URL needs an ASCII host name (punycode for international names)"
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme, host.lower(), port or (443 if scheme == "https" else 80), path)


# IPv6 ranges that carry an IPv4 address a packet ends up at: the IPv4 one is what is
# reached, so it is the one checked. Each network, and where in it the IPv4 address lies.
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")  # IPv4-mapped (RFC 4291)
_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # IPv4-translated (RFC 2765)
_COMPATIBLE = ipaddress.ip_network("::/96")  # IPv4-compatible, deprecated (RFC 4291)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known NAT64 prefix (RFC 6052)
# Local-use NAT64 (RFC 8215): a site's own translator, which may map non-global IPv4, under
# any prefix length (so the IPv4 address may sit at bits 48-87 as well as at the end): refused
# outright, it is not a public address whatever it embeds.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
# Outside the demo and test environments, IPv6 is called only within global unicast.
_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")  # deprecated (RFC 3879), inside still

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to (mapped, translated, compatible, NAT64,
    6to4, Teredo's server and client), if it is of such a form."""
    low = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _MAPPED or ip in _TRANSLATED or ip in _NAT64:
        return [low]
    if ip in _COMPATIBLE:
        # :: and ::1 are the unspecified and loopback addresses, not IPv4-compatible ones.
        return [] if int(ip) <= 1 else [low]
    if ip.sixtofour is not None:  # 2002::/16: the IPv4 address in bits 16-47
        return [ip.sixtofour]
    if ip.teredo is not None:  # 2001::/32: the server, and the client's inverted address
        return list(ip.teredo)
    return []


def _ipv4_problem(ip: ipaddress.IPv4Address, policy: NetworkPolicy) -> bool:
    if ip.is_loopback:
        return not policy.allow_loopback
    return ip.is_multicast or ip.is_unspecified or not ip.is_global


def _ipv6_problem(ip: ipaddress.IPv6Address, policy: NetworkPolicy) -> bool:
    if ip.is_loopback:
        return not policy.allow_loopback
    if ip in _LOCAL_NAT64 or ip in _SITE_LOCAL or ip not in _GLOBAL_UNICAST:
        return True
    return ip.is_multicast or not ip.is_global


def address_problem(address: str, policy: NetworkPolicy) -> str | None:
    """Why ``address`` may not be called, or None: only public unicast addresses (and, in
    demo and test, loopback). Loopback, link-local (cloud metadata at 169.254.169.254),
    private, shared, multicast, reserved and unspecified addresses are refused, and so is an
    IPv6 address that leads to one of them in IPv4 (mapped, NAT64, 6to4, Teredo...)."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv4Address):
        refused = _ipv4_problem(ip, policy)
    elif inner := embedded_ipv4(ip):
        refused = any(_ipv4_problem(v4, policy) for v4 in inner)
        # 6to4 and Teredo lie within global unicast and must pass as IPv6 as well (Teredo, a
        # special-purpose block, does not).
        refused = refused or (ip in _GLOBAL_UNICAST and _ipv6_problem(ip, policy))
    else:
        refused = _ipv6_problem(ip, policy)
    return f"{ip} is not a public address" if refused else None


# --- the message -----------------------------------------------------------------------------


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def message_id(position: int) -> str:
    """``webhook-id``: the event's position, so a receiver recognises a repeat (retry or
    replay), and the same event read from the stream or live updates (whose ``id`` it is)."""
    return f"evt_{position}"


def message_body(
    *,
    position: int,
    topic: str,
    occurred_at: datetime,
    payload: dict[str, Any],
    aggregate_type: str,
    aggregate_id: str,
    customer_id: str | None,
) -> str:
    """The JSON sent: ``{"id", "type", "timestamp", "data"}``: ``id`` the event's position
    (as in the stream), the data the event's payload (ids and states, never PII) and the ids
    of what it is about."""
    moment = occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    data = {
        **payload,
        "aggregate_type": aggregate_type,
        "aggregate_id": aggregate_id,
        "customer_id": customer_id,
    }
    return json.dumps(
        {"id": position, "type": topic, "timestamp": moment, "data": data},
        separators=(",", ":"),
        default=str,
    )


def signature_headers(
    msg_id: str, timestamp: datetime, body: str, signing_secrets: Sequence[str]
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and ``webhook-signature`` (one ``v1,`` signature
    per secret, space separated: during a rotation a receiver may hold either secret)."""
    signatures = " ".join(Webhook(s).sign(msg_id, timestamp, body) for s in signing_secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signatures,
    }
