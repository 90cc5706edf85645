"""Webhook rules: which events a pattern takes, where a webhook may go, the signed message,
and the retry schedule."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.core.config import Environment
from pd_prime_demo.events.catalogue import CATALOGUE
from pd_prime_demo.webhooks.rules import (
    DEFAULT_POLICY,
    RETRY_DELAYS,
    DeliveryPolicy,
    NetworkPolicy,
    Target,
    address_problem,
    client_id_of,
    event_type_problem,
    failing_for_too_long,
    has_company_reach,
    manages_all,
    matches,
    message_body,
    message_id,
    new_secret,
    parse_url,
    signature_headers,
)
from pd_prime_demo.webhooks.service.network import vet

PRODUCTION = NetworkPolicy.for_env(Environment.PRODUCTION)
LOCAL = NetworkPolicy.for_env(Environment.TEST)

words = st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,5}", fullmatch=True), min_size=1, max_size=4)


def test_patterns_take_the_type_itself_everything_under_a_prefix_or_everything() -> None:
    assert matches("policy.bound", "policy.bound")
    assert matches("policy.*", "policy.bound")
    assert matches("policy.*", "policy.renewal.offered")
    assert matches("policy.renewal.*", "policy.renewal.offered")
    assert matches("*", "quote.created")
    assert not matches("policy.*", "policyholder.created")
    assert not matches("policy.*", "policy")
    assert not matches("policy.bound", "policy.bound_again")
    assert not matches("quote.*", "policy.bound")


@given(words, words)
def test_a_prefix_pattern_takes_exactly_the_types_under_it(
    prefix: list[str], rest: list[str]
) -> None:
    pattern = ".".join(prefix) + ".*"
    assert matches(pattern, ".".join(prefix + rest))
    assert not matches(pattern, ".".join(prefix))
    other = ".".join(rest)
    assert matches(pattern, other) == other.startswith(".".join(prefix) + ".")


def test_event_types_are_dotted_lower_case_words() -> None:
    for good in ("policy.bound", "policy.*", "*", "billing.payment_received", "a.b.c.*"):
        assert event_type_problem(good) is None, good
    for bad in ("Policy.Bound", "policy.*.bound", "policy.", ".policy", "po licy", "**", "p?"):
        assert event_type_problem(bad) is not None, bad


def test_only_https_outside_demo_and_test() -> None:
    assert parse_url("http://hooks.example.com/x", PRODUCTION) == "a webhook URL must use https"
    assert isinstance(parse_url("http://hooks.example.com/x", LOCAL), Target)
    target = parse_url("https://Hooks.Example.com/in?agency=7", PRODUCTION)
    assert target == Target("https", "hooks.example.com", 443, "/in?agency=7")
    for bad in (
        "ftp://hooks.example.com/",
        "https://user:secret@hooks.example.com/",
        "https://hooks.example.com/#top",
        "https:///nohost",
        "https://hooks.example.com:99999/",
        "https://bücher.example/",
        "https://hooks.example.com/a b",
    ):
        assert isinstance(parse_url(bad, PRODUCTION), str), bad


def test_the_connection_goes_to_the_vetted_address_under_the_name() -> None:
    target = parse_url("https://hooks.example.com:8443/in?x=1", PRODUCTION)
    assert isinstance(target, Target)
    assert target.pinned_url("93.184.216.34") == "https://93.184.216.34:8443/in?x=1"
    assert target.pinned_url("2606:2800:220:1::1") == "https://[2606:2800:220:1::1]:8443/in?x=1"
    assert target.host_header() == "hooks.example.com:8443"
    v6 = parse_url("https://[2606:2800:220:1::1]/", PRODUCTION)
    assert isinstance(v6, Target)
    assert v6.host_header() == "[2606:2800:220:1::1]"
    assert v6.literal is not None


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "fe80::1",
        "fc00::1",
        "100.64.0.1",  # shared (carrier-grade NAT)
        "0.0.0.0",  # noqa: S104 - an address refused, not bound
        "::",
        "224.0.0.1",
        "ff02::1",
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "::ffff:10.0.0.1",  # IPv4-mapped
        "::ffff:127.0.0.1",
        "fe80::1%eth0",
        # IPv6 forms that lead to an IPv4 address inside (169.254.169.254, 10.0.0.1):
        "64:ff9b::a9fe:a9fe",  # NAT64, the well-known prefix
        "64:ff9b::a00:1",
        "64:ff9b:1::a00:1",  # local-use NAT64
        "64:ff9b:1:a00:1::",  # local-use NAT64 under a /48 (RFC 6052: bits 48-87)
        "2002:a9fe:a9fe::1",  # 6to4
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo, client 10.0.0.1 (inverted)
        "2001:0:a00:1:8000:63bf:f7f7:f7f7",  # Teredo, server 10.0.0.1
        "::a9fe:a9fe",  # IPv4-compatible
        "::a00:1",
        "::ffff:0:a00:1",  # IPv4-translated
        "::ffff:0:a9fe:a9fe",
        "fec0::1",  # site-local (deprecated)
        "100::1",  # discard-only
        "4000::1",  # outside global unicast (2000::/3)
        "2001:db8::1",  # documentation
    ],
)
def test_no_webhook_goes_inside_the_network(address: str) -> None:
    assert address_problem(address, PRODUCTION) is not None
    loopback = address in ("127.0.0.1", "::1", "::ffff:127.0.0.1")
    assert (address_problem(address, LOCAL) is None) == loopback


@pytest.mark.parametrize(
    "address",
    [
        "2606:2800:220:1::1",
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
        "2002:808:808::1",  # 6to4 of 8.8.8.8
        "::ffff:8.8.8.8",
    ],
)
def test_ipv6_forms_of_public_addresses_may_be_called(address: str) -> None:
    assert address_problem(address, PRODUCTION) is None


def test_loopback_is_allowed_in_demo_and_test_only_and_nothing_else_inside() -> None:
    for address in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
        assert address_problem(address, LOCAL) is None
        assert address_problem(address, PRODUCTION) is not None
    for address in ("10.0.0.1", "169.254.169.254", "192.168.0.1", "0.0.0.0"):  # noqa: S104
        assert address_problem(address, LOCAL) is not None
    assert address_problem("93.184.216.34", PRODUCTION) is None
    assert address_problem("2606:2800:220:1::1", PRODUCTION) is None
    assert address_problem("not-an-ip", PRODUCTION) is not None


async def test_a_name_is_vetted_by_every_address_it_resolves_to() -> None:
    localhost = parse_url("https://localhost/hook", PRODUCTION)
    assert isinstance(localhost, Target)
    refused = await vet(localhost, PRODUCTION)
    # Where an internal name leads is not told (neither to the caller nor in the log).
    assert refused == "localhost resolves to a non-public address"
    allowed = await vet(localhost, LOCAL)
    assert isinstance(allowed, list)
    assert allowed
    literal = parse_url("http://127.0.0.1:8080/", LOCAL)
    assert isinstance(literal, Target)
    assert await vet(literal, LOCAL) == ["127.0.0.1"]
    nowhere = parse_url("https://nothing.invalid/", PRODUCTION)
    assert isinstance(nowhere, Target)
    assert await vet(nowhere, PRODUCTION) == "nothing.invalid does not resolve"


def test_the_schedule_is_svix_s_then_the_dead_letter() -> None:
    assert [DEFAULT_POLICY.retry_in(n) for n in range(1, 9)] == [*RETRY_DELAYS, None]
    assert RETRY_DELAYS == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert DEFAULT_POLICY.max_attempts == 8
    assert timedelta(seconds=sum(RETRY_DELAYS)) == timedelta(hours=27, minutes=35, seconds=5)
    assert DeliveryPolicy(retry_delays=(1,)).retry_in(2) is None


def test_an_endpoint_failing_attempt_after_attempt_is_paused_on_the_schedule() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)

    def paused(in_a_row: int, seconds: float) -> float | None:
        until = DEFAULT_POLICY.paused_until(in_a_row, start, start + timedelta(seconds=seconds))
        return None if until is None else (until - start).total_seconds()

    assert DEFAULT_POLICY.breaker_after == 5
    assert paused(4, 0) is None  # closed below five failures in a row
    assert paused(5, 0) == 5  # the schedule's points from the first failure: 5 s, 5 min 5 s...
    assert paused(5, 4.9) == 5
    assert paused(5, 5) == 305
    assert paused(50, 5) == 305  # attempts failing one after the other do not push it further
    assert paused(9, 2000) == 2105
    spent = sum(RETRY_DELAYS)
    assert paused(9, spent) == spent + 36000  # then every ten hours
    assert paused(9, spent + 36000 * 2 + 1) == spent + 36000 * 3
    assert DeliveryPolicy(breaker_after=2).paused_until(2, start, start) is not None


def test_an_endpoint_is_failing_for_too_long_after_five_days() -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    assert not failing_for_too_long(None, start, DEFAULT_POLICY)
    assert not failing_for_too_long(start, start + timedelta(days=5, seconds=-1), DEFAULT_POLICY)
    assert failing_for_too_long(start, start + timedelta(days=5), DEFAULT_POLICY)


def test_the_secret_is_a_standard_webhooks_secret() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_the_message_is_signed_so_a_receiver_verifies_it_with_either_secret() -> None:
    old, new = new_secret(), new_secret()
    body = message_body(
        position=4711,
        topic="quote.created",
        occurred_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        payload={"number": "Q-1"},
        aggregate_type="quote",
        aggregate_id="q1",
        customer_id="c1",
    )
    assert json.loads(body) == {
        "id": 4711,
        "type": "quote.created",
        "timestamp": "2026-12-01T09:30:00Z",
        "data": {
            "number": "Q-1",
            "aggregate_type": "quote",
            "aggregate_id": "q1",
            "customer_id": "c1",
        },
    }
    now = datetime.now(UTC)
    headers = signature_headers(message_id(4711), now, body, [new, old])
    assert headers["webhook-id"] == "evt_4711"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        assert Webhook(secret).verify(body, headers)["type"] == "quote.created"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body.replace("Q-1", "Q-2"), headers)


def test_who_manages_and_who_receives_company_events() -> None:
    owner = Actor.user(uuid.uuid4(), Role.AGENT, frozenset({Permission.WEBHOOKS_MANAGE}))
    client_id = uuid.uuid4()
    client = Actor.client(client_id, owner, frozenset(Permission))
    assert client_id_of(client) == client_id
    assert client_id_of(owner) is None
    assert not manages_all(owner)
    assert manages_all(Actor.user(uuid.uuid4(), Role.ADMIN, frozenset(Permission)))
    assert manages_all(Actor.system("tests"))
    assert not has_company_reach(client)
    underwriter = Actor.user(uuid.uuid4(), Role.UNDERWRITER, frozenset(Permission))
    assert has_company_reach(Actor.client(uuid.uuid4(), underwriter, frozenset(Permission)))


def test_the_event_types_the_webhooks_guide_names_are_in_the_catalogue() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "webhooks.md").read_text()
    # Names of the business families (the webhook.* family's names are mostly error codes).
    named = set(
        re.findall(r"\b(?:policy|quote|billing|document|product_version)(?:\.[a-z_]+)+", guide)
    )
    assert named, "the guide names event types"
    assert named <= set(CATALOGUE), named - set(CATALOGUE)
    assert {"webhook.subscription_disabled", "webhook.replay_requested"} <= set(CATALOGUE)
