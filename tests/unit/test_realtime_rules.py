"""Live updates' pure parts and the hub's bounded queues; the cache's single-use take."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.cache import Cache, MemoryCache, create_cache
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.events import service as events
from pd_prime_demo.events.catalogue import TypeFilter, parse_filter
from pd_prime_demo.identity.rules import permissions_for
from pd_prime_demo.realtime import service
from pd_prime_demo.realtime.hub import Delivery, Hub, Signal, Subscription
from pd_prime_demo.realtime.rules import (
    Holder,
    Request,
    client_id_of,
    dump_holder,
    is_ping,
    load_holder,
    parse_request,
)

AGENT = Actor.user(uuid.uuid4(), Role.AGENT, permissions_for(Role.AGENT), authority=0)


def _caches() -> list[Cache]:
    caches: list[Cache] = [MemoryCache()]
    if url := os.environ.get("REDIS_URL"):
        caches.append(create_cache(url, namespace=f"pd-prime-test-{uuid.uuid4().hex}"))
    return caches


async def test_a_ticket_is_redeemed_once_by_whoever_asks_first() -> None:
    for cache in _caches():
        later = datetime.now(UTC) + timedelta(minutes=5)
        sid = uuid.uuid4()
        issued = await service.issue_ticket(cache, AGENT, valid_until=later, session_id=sid)
        takers = await asyncio.gather(
            *(service.redeem_ticket(cache, issued.ticket) for _ in range(10))
        )
        won = [t for t in takers if isinstance(t, Ok)]
        assert len(won) == 1
        assert won[0].value.actor == AGENT
        assert won[0].value.session_id == sid  # checked at redemption and while it is open
        assert all(
            isinstance(t, Err) and t.error.code == "realtime.bad_ticket"
            for t in takers
            if t not in won
        )
        # An access token that has expired makes its ticket worthless.
        stale = await service.issue_ticket(
            cache, AGENT, valid_until=datetime.now(UTC) - timedelta(seconds=1), session_id=sid
        )
        assert isinstance(await service.redeem_ticket(cache, stale.ticket), Err)
        assert isinstance(await service.redeem_ticket(cache, "rt_" + "x" * 43), Err)
        assert isinstance(await service.redeem_ticket(cache, "not-a-ticket"), Err)
        await cache.close()


async def test_memory_values_expire() -> None:
    cache = MemoryCache()
    await cache.put("k", "v", 0)
    assert await cache.take("k") is None
    await cache.put("k", "v", 30)
    assert await cache.take("k") == "v"
    assert await cache.take("k") is None


def test_a_holder_survives_the_cache_and_garbage_does_not() -> None:
    moment = datetime(2026, 5, 1, 12, tzinfo=UTC)
    holder = Holder(AGENT, moment, session_id=uuid.uuid4())
    assert load_holder(dump_holder(holder)) == holder
    client_id = uuid.uuid4()
    client = Actor.client(client_id, AGENT, frozenset(permissions_for(Role.AGENT)))
    assert client_id_of(client) == client_id
    assert client_id_of(AGENT) is None
    of_client = Holder(client, moment, client_id=client_id)
    assert load_holder(dump_holder(of_client)) == of_client
    for garbage in ("", "[]", '{"kind": "user"}', '{"kind": "nobody"}'):
        assert load_holder(garbage) is None


def test_query_parameters() -> None:
    ok = parse_request([("ticket", "rt_a"), ("last_event_id", "42"), ("type", "policy.*")])
    assert ok == Request("rt_a", 42, ("policy.*",))
    assert parse_request([]) == Request("", None, ())
    for bad in (
        [("last_event_id", "-1")],
        [("last_event_id", "4.2")],
        [("last_event_id", "٣")],  # a digit, but not an ASCII one
        [("last_event_id", "9" * 30)],
        [("ticket", "a"), ("ticket", "b")],
        [("type", "quote.created")] * 51,
    ):
        assert isinstance(parse_request(bad), str), bad
    assert is_ping('{"type": "ping"}')
    assert not is_ping('{"type": "pong"}')
    assert not is_ping("ping")
    assert not is_ping('{"type": "ping", "pad": "' + "x" * 300 + '"}')


def test_type_filters() -> None:
    chosen = parse_filter(["policy.*", "quote.created"])
    assert isinstance(chosen, TypeFilter)
    assert chosen.admits("policy.endorsement")
    assert chosen.admits("quote.created")
    assert not chosen.admits("quote.quoted")
    assert not chosen.admits("policyx.endorsement")
    assert TypeFilter().admits("anything.at_all")
    for bad in ("policy", "policy.unknown", "unknown.*", "*", "policy.%", "POLICY.*", ""):
        assert isinstance(parse_filter([bad]), str), bad


def _event(position: int, customer: uuid.UUID | None) -> events.Published:
    return events.Published(
        position, "quote.created", datetime.now(UTC), "quote", str(position), customer, {}
    )


def _subscription(actor: Actor, types: TypeFilter, capacity: int) -> Subscription:
    holder = Holder(actor, datetime.now(UTC) + timedelta(minutes=5))
    return Subscription(events.audience_of(actor), types, holder, capacity)


def test_a_subscription_that_falls_behind_is_ended_not_grown() -> None:
    hub = Hub(capacity=3)
    slow = _subscription(Actor.system("test"), TypeFilter(), hub.capacity)
    hub._subscriptions.add(slow)
    batch = [_event(n, uuid.uuid4()) for n in range(1, 8)]
    hub._dispatch(batch, [slow], set())
    assert slow.ended is Signal.LAGGING
    assert slow not in hub._subscriptions
    items = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
    assert [i.position for i in items if isinstance(i, Delivery)] == [1, 2, 3]
    assert items[-1] is Signal.LAGGING  # the signal always fits: capacity + 1


def test_the_fan_out_filters_each_subscription() -> None:
    hub = Hub()
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    staff = Actor.user(uuid.uuid4(), Role.UNDERWRITER, permissions_for(Role.UNDERWRITER))
    subscriptions = [
        _subscription(AGENT, TypeFilter(), 10),
        _subscription(staff, TypeFilter(), 10),
        _subscription(staff, TypeFilter(families=frozenset({"policy"})), 10),
    ]
    assert AGENT.user_id is not None
    allowed = {(subscriptions[0].audience.kind, AGENT.user_id, mine)}
    hub._dispatch([_event(1, mine), _event(2, theirs), _event(3, None)], subscriptions, allowed)

    def got(subscription: Subscription) -> list[int]:
        return [
            item.position
            for item in (subscription.queue.get_nowait() for _ in range(subscription.queue.qsize()))
            if isinstance(item, Delivery)
        ]

    assert got(subscriptions[0]) == [1]  # its customer only; no company event
    assert got(subscriptions[1]) == [1, 2, 3]
    assert got(subscriptions[2]) == []  # asked for policy events only


@pytest.mark.parametrize("role", [Role.CUSTOMER, Role.AGENT])
def test_company_events_are_not_for_customers_or_agents(role: Role) -> None:
    audience = events.audience_of(Actor.user(uuid.uuid4(), role, permissions_for(role)))
    assert not events.admits(audience, _event(1, None), set())


def test_internal_events_reach_no_one_and_client_notices_admins_and_their_owner() -> None:
    owner = uuid.uuid4()

    def webhook(kind: str, data: dict[str, str]) -> events.Published:
        return events.Published(1, kind, datetime.now(UTC), "webhook_subscription", "s", None, data)

    def reader(role: Role, user: uuid.UUID | None = None) -> events.Audience:
        return events.audience_of(Actor.user(user or uuid.uuid4(), role, permissions_for(role)))

    readers = [
        reader(Role.ADMIN),
        reader(Role.UNDERWRITER),
        reader(Role.AGENT, owner),
        reader(Role.AGENT),
        events.audience_of(Actor.system("test")),
    ]
    internal = webhook("webhook.replay_requested", {})
    notice = webhook("webhook.subscription_disabled", {"owner_id": str(owner)})
    assert [events.admits(r, internal, set()) for r in readers] == [False] * 5
    assert [events.admits(r, notice, set()) for r in readers] == [True, False, True, False, True]
