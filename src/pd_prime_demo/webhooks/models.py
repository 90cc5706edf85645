"""Webhook subscriptions, one delivery per (subscription, event), and every attempt made.

The delivery row is the truth about where a delivery stands: ``pending`` with the moment of
its next attempt, ``succeeded``, or ``failed`` (every attempt of the schedule failed: the dead
letter, until it is replayed). Jobs only wake deliveries up, so a duplicate job or a lost one
changes nothing (see ``service.deliver``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import not_personal


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"  # an attempt is due at next_attempt_at
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the schedule is spent (or the recipient may no longer receive it)


class WebhookSubscription(Base):
    """An endpoint of an API client and the event types it wants."""

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (
        # A client's subscriptions, an owner's, everyone's: a page at a time.
        Index("ix_webhook_subscriptions_client_id_created_at", "client_id", "created_at", "id"),
        Index("ix_webhook_subscriptions_owner_id_created_at", "owner_id", "created_at", "id"),
        # The fan-out finds the enabled ones whose patterns overlap an event type's.
        Index(
            "ix_webhook_subscriptions_event_types",
            "event_types",
            postgresql_using="gin",
            postgresql_where="enabled",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_clients.id"))
    # The client's owner, whose reach the client works within; they manage it too.
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    description: Mapped[str | None] = mapped_column(
        String(200), info=not_personal("an API client's label for a subscription")
    )
    # The signing secret (``whsec_...``), encrypted with the field cipher: it must be read back
    # to sign, unlike a password. The previous one signs beside it until it expires (rotation).
    secret: Mapped[str] = mapped_column(
        Text, info=not_personal("a machine signing secret, not a person's")
    )
    previous_secret: Mapped[str | None] = mapped_column(
        Text, info=not_personal("a machine signing secret, not a person's")
    )
    previous_secret_expires_at: Mapped[datetime | None]
    enabled: Mapped[bool]
    disabled_reason: Mapped[str | None] = mapped_column(String(20))  # "manual" | "failing"
    disabled_at: Mapped[datetime | None]
    # The first failed attempt since the last success: failing for long enough disables it.
    failing_since: Mapped[datetime | None]
    # The circuit breaker: failed attempts since the last success, and, once there are enough
    # of them, until when deliveries wait (then one attempt at a time tries the endpoint).
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    paused_until: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class WebhookDelivery(Base):
    """One event for one subscription; ``attempts`` counts the current run's attempts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # At most one delivery of an event to a subscription, however often it is fanned out.
        UniqueConstraint("subscription_id", "event_id", name="uq_webhook_deliveries_event"),
        # A subscription's log, newest first, optionally by status (bulk replay of failures).
        Index(
            "ix_webhook_deliveries_subscription_id_created_at",
            "subscription_id",
            "created_at",
            "id",
        ),
        Index(
            "ix_webhook_deliveries_subscription_id_status_created_at",
            "subscription_id",
            "status",
            "created_at",
            "id",
        ),
        # The sweep that wakes deliveries whose job was lost.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where="status = 'pending'",
        ),
        # A subscription's pending deliveries in id order: the chunks a replay wakes (0012).
        Index(
            "ix_webhook_deliveries_pending",
            "subscription_id",
            "id",
            postgresql_include=["next_attempt_at"],
            postgresql_where="status = 'pending'",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    # The outbox event (no foreign key: the outbox may be pruned of old events one day).
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(SmallInteger)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One HTTP request made for a delivery, and how the receiver answered (or did not)."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        Index("ix_webhook_attempts_delivery_id_attempted_at", "delivery_id", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(SmallInteger)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # The start of the receiver's answer, for debugging (at most 1 KiB of it).
    response_excerpt: Mapped[str | None] = mapped_column(Text)
