"""The transactional outbox: events written in the same transaction as the change they describe.

A relay (the worker, later) publishes unpublished rows and stamps ``published_at``; because the
event commits or rolls back with the change, nothing acknowledged is lost and nothing rolled
back is announced.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from pd_prime_demo.core import clock
from pd_prime_demo.core.database import Base


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_unpublished", "id", postgresql_where="published_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    occurred_at: Mapped[datetime]
    topic: Mapped[str] = mapped_column(String(100))
    aggregate_type: Mapped[str] = mapped_column(String(50))
    aggregate_id: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    published_at: Mapped[datetime | None]


def emit(
    session: AsyncSession,
    topic: str,
    aggregate_type: str,
    aggregate_id: str,
    payload: dict[str, Any] | None = None,
) -> OutboxEvent:
    """Queue an event; ``payload`` holds ids and states, never PII."""
    event = OutboxEvent(
        occurred_at=clock.now(),
        topic=topic,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        payload=payload or {},
    )
    session.add(event)
    return event
