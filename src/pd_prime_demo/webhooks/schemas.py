"""Webhook API models. Unknown fields are rejected; a secret appears only where it is made."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

from pd_prime_demo.core.dates import Moment
from pd_prime_demo.webhooks.models import DeliveryStatus
from pd_prime_demo.webhooks.rules import MAX_EVENT_TYPES, event_type_problem


def _event_type(value: str) -> str:
    if (problem := event_type_problem(value)) is not None:
        raise ValueError(problem)
    return value


def _distinct(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


EventType = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_event_type)]
EventTypes = Annotated[
    list[EventType],
    Field(
        min_length=1,
        max_length=MAX_EVENT_TYPES,
        description="Event types (`policy.new_business`), patterns (`policy.*`), or `*` for "
        "all: see `GET /api/v1/events/types`.",
    ),
    AfterValidator(_distinct),
]
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="Where deliveries are POSTed: https, to a public address.",
    ),
]

_EXAMPLE: dict[str, JsonValue] = {
    "url": "https://hooks.agency.example/pd-prime",
    "event_types": ["policy.*", "billing.payment_received"],
    "description": "Agency management system",
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", from_attributes=True)


class SubscriptionCreate(_Model):
    url: Url
    event_types: EventTypes
    description: str | None = Field(default=None, max_length=200)
    client_id: uuid.UUID | None = Field(
        default=None,
        description="The API client that receives the events: required when a person (its "
        "owner or an administrator) subscribes; a client's own token subscribes itself.",
    )

    model_config = ConfigDict(frozen=True, extra="forbid", json_schema_extra={"example": _EXAMPLE})


class SubscriptionUpdate(_Model):
    """Only the fields sent change; enabling a disabled subscription starts it afresh."""

    url: Url | None = None
    event_types: EventTypes | None = None
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"example": {"event_types": ["policy.*"], "enabled": True}},
    )


class SubscriptionRead(_Model):
    id: uuid.UUID
    client_id: uuid.UUID
    owner_id: uuid.UUID = Field(description="The client's owner, who manages it as well.")
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    disabled_reason: str | None = Field(
        description="`manual`, or `failing`: every attempt failed for days (see the docs)."
    )
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="The first failed attempt since the last success, if failing now."
    )
    paused_until: datetime | None = Field(
        description="Set when the endpoint failed five attempts in a row: deliveries wait "
        "until then, and then one attempt at a time tries it (the circuit breaker); cleared "
        "by a success."
    )
    last_success_at: datetime | None = Field(description="To the minute.")
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation, until when the previous secret also signs."
    )
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(
        description="The signing secret (`whsec_...`), shown only here and on rotation."
    )


class SubscriptionPage(_Model):
    items: list[SubscriptionRead]
    next_cursor: str | None


class SecretRotated(_Model):
    secret: str = Field(description="The new signing secret, shown only in this response.")
    previous_secret_expires_at: datetime = Field(
        description="Until then deliveries carry a signature with each secret."
    )


class AttemptRead(_Model):
    attempted_at: datetime
    status_code: int | None = Field(description="None when no answer came.")
    latency_ms: int
    error: str | None
    response_excerpt: str | None = Field(description="The first KiB of the answer.")


class DeliveryRead(_Model):
    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: int = Field(
        description="The event's record; `webhook-id` is `evt_<position>`, its position in the "
        "event stream (`id` there and in the message)."
    )
    event_type: str
    status: DeliveryStatus
    attempts: int = Field(description="Attempts since the delivery (or its replay) began.")
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None


class DeliveryDetail(DeliveryRead):
    attempt_log: list[AttemptRead] = Field(description="Every attempt, newest first (100 at most).")


class DeliveryPage(_Model):
    items: list[DeliveryRead]
    next_cursor: str | None


class ReplayRequest(_Model):
    # A moment within 1900-2199 (UTC), as everywhere: no offset can carry it out of range.
    since: Moment = Field(description="Failed deliveries made since then start again.")

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={"example": {"since": "2026-12-01T00:00:00Z"}},
    )


class ReplayAccepted(_Model):
    replayed: int = Field(description="How many failed deliveries start again.")
