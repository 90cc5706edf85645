"""Webhook use cases: subscriptions, the fan-out of published events, attempts and their log,
replays. Other packages (the worker's wiring) use webhooks only through the names below."""

from pd_prime_demo.webhooks.service.deliver import DISABLED_TOPIC, attempt, subscription_states
from pd_prime_demo.webhooks.service.deliveries import (
    REPLAY_TOPIC,
    DeliveryWithAttempts,
    get_delivery,
    list_deliveries,
    replay_delivery,
    replay_failed,
)
from pd_prime_demo.webhooks.service.fan_out import fan_out, may_receive, overdue, replayed
from pd_prime_demo.webhooks.service.subscriptions import (
    Created,
    Rotated,
    create_subscription,
    delete_subscription,
    get_subscription,
    list_subscriptions,
    reveal_secret,
    rotate_secret,
    update_subscription,
)

__all__ = [
    "DISABLED_TOPIC",
    "REPLAY_TOPIC",
    "Created",
    "DeliveryWithAttempts",
    "Rotated",
    "attempt",
    "create_subscription",
    "delete_subscription",
    "fan_out",
    "get_delivery",
    "get_subscription",
    "list_deliveries",
    "list_subscriptions",
    "may_receive",
    "overdue",
    "replay_delivery",
    "replay_failed",
    "replayed",
    "reveal_secret",
    "rotate_secret",
    "subscription_states",
    "update_subscription",
]
