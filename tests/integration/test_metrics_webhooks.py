"""Webhook deliveries on /metrics: each attempt counted once, by its outcome, with its latency."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.metrics_server import render
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.telemetry import REGISTRY
from pd_prime_demo.operations.metrics import scrape_families
from pd_prime_demo.webhooks import service
from pd_prime_demo.webhooks.rules import RETRY_DELAYS
from tests.api.test_metrics import samples, value
from tests.api.test_webhook_subscriptions import SUBSCRIPTIONS, bearer, register_client
from tests.factories import user_login
from tests.integration.test_webhooks import published_fan_out
from tests.integration.webhook_receiver import (
    Receiver,
    api,
    failing_subscription,
    listening,
    quote_for_new_customer,
    rows,
    subscribe,
    work,
)

OUTCOMES = ("delivered", "failed", "retrying", "disabled")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with listening() as found:
        yield found


def _counts() -> dict[str, float]:
    """Attempts by outcome, and ("timed") the retrying ones whose latency was observed."""
    counted = {
        outcome: REGISTRY.get_sample_value(
            "pd_prime_webhook_deliveries_total", {"outcome": outcome}
        )
        for outcome in OUTCOMES
    }
    counted["timed"] = REGISTRY.get_sample_value(
        "pd_prime_webhook_delivery_duration_seconds_count", {"outcome": "retrying"}
    )
    return {name: found or 0.0 for name, found in counted.items()}


async def _subscription_states(runtime: Runtime) -> dict[str, float]:
    """The subscriptions gauge as a scrape reads it."""
    scraped = await scrape_families(runtime.db, runtime.settings)
    found = samples(render(lambda: scraped).decode())
    states = {
        state: value(found, "pd_prime_webhook_subscriptions", state=state)
        for state in ("active", "disabled")
    }
    assert None not in states.values(), "both states are always exported"
    return {state: count or 0.0 for state, count in states.items()}


async def test_attempts_are_counted_by_outcome(
    committed_runtime: Runtime, receiver: Receiver
) -> None:
    runtime = committed_runtime
    before = _counts()
    async with api(runtime) as client:
        agent, subscription = await failing_subscription(client, runtime, receiver)
        await work(runtime)
        ((delivery_id, next_at),) = await rows(
            runtime, "SELECT id, next_attempt_at FROM webhook_deliveries"
        )
        first = _counts()
        assert first["retrying"] == before["retrying"] + 1
        assert first["timed"] == before["timed"] + 1
        for delay in (*RETRY_DELAYS[1:], None):
            with clock.frozen_at(next_at):
                assert await service.attempt(runtime, delivery_id) == delay
            if delay is not None:
                next_at += timedelta(seconds=delay)
        exhausted = _counts()
        assert exhausted["retrying"] == before["retrying"] + len(RETRY_DELAYS)
        assert exhausted["failed"] == before["failed"] + 1

        receiver.behaviour["/down"] = "ok"
        url = f"{SUBSCRIPTIONS}/{subscription['id']}"
        replayed = await client.post(
            f"{url}/deliveries/{delivery_id}/replay", headers=agent.headers
        )
        assert replayed.status_code == 202, replayed.text
        await work(runtime)
    after = _counts()
    assert after["delivered"] == before["delivered"] + 1
    assert after["failed"] == exhausted["failed"]
    assert after["disabled"] == before["disabled"]


async def test_the_attempt_that_disables_a_failing_endpoint_is_counted_as_disabled(
    committed_runtime: Runtime, receiver: Receiver
) -> None:
    runtime = committed_runtime
    before, states_before = _counts(), await _subscription_states(runtime)
    async with api(runtime) as client:
        admin = await user_login(client, runtime, Role.ADMIN)
        agent = await user_login(client, runtime, Role.AGENT)
        agency = await register_client(client, admin, agent)
        await subscribe(client, receiver, bearer(agency), "/down", ["quote.created"])
        receiver.behaviour["/down"] = "fail"
        await quote_for_new_customer(client, agent)
        await quote_for_new_customer(client, agent)
        first, second = await published_fan_out(runtime)
        start = clock.now()
        with clock.frozen_at(start):
            assert await service.attempt(runtime, first) == 5
        with clock.frozen_at(start + timedelta(days=5)):
            assert await service.attempt(runtime, second) is None
    after = _counts()
    assert after["retrying"] == before["retrying"] + 1
    assert after["disabled"] == before["disabled"] + 1
    assert after["failed"] == before["failed"]  # the disabling attempt is not also "failed"
    assert await _subscription_states(runtime) == {
        "active": states_before["active"],
        "disabled": states_before["disabled"] + 1,
    }
