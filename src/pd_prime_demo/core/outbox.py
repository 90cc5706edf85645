"""The transactional outbox: events written in the same transaction as the change they describe.

Because an event commits or rolls back with its change, nothing acknowledged is lost and nothing
rolled back is announced. A transaction's events are inserted in one statement as it commits,
before the audit chain takes its lock (see ``core.at_commit``); a trigger then wakes the relay
(``events.relay``), which gives committed events their ``position`` in the published sequence,
stamps ``published_at`` and turns them into jobs. Jobs run at least once, so each consumer is
idempotent on the event: a page is drawn once (its status), a webhook delivery is made once
per subscription and event (a unique key).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, String, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from pd_prime_demo.core import clock
from pd_prime_demo.core.at_commit import AtCommit, at_real_commit
from pd_prime_demo.core.database import Base
from pd_prime_demo.core.personal_data import not_personal
from pd_prime_demo.core.tracing import current_traceparent


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_unpublished", "id", postgresql_where="published_at IS NULL"),
        Index(
            "ux_outbox_events_position",
            "position",
            unique=True,
            postgresql_where="position IS NOT NULL",
        ),
        Index(
            "ix_outbox_events_customer_id_position",
            "customer_id",
            "position",
            postgresql_where="position IS NOT NULL",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    occurred_at: Mapped[datetime]
    topic: Mapped[str] = mapped_column(String(100))
    aggregate_type: Mapped[str] = mapped_column(String(50))
    aggregate_id: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(
        info=not_personal(
            "ids, statuses and amounts: payloads leave by webhook, without personal data"
        )
    )
    published_at: Mapped[datetime | None]
    # The order the relay published it in: gap free in commit order (None until published).
    position: Mapped[int | None] = mapped_column(BigInteger)
    # Whose business it is: a reader sees the events of the customers it may see (None: staff).
    customer_id: Mapped[uuid.UUID | None]
    # The W3C trace context of the transaction that wrote it, carried into the jobs it causes.
    traceparent: Mapped[str | None] = mapped_column(String(55))


_PENDING: AtCommit[dict[str, Any]] = AtCommit("pd_prime.outbox.pending")
_INSERT = insert(OutboxEvent)


def emit(
    session: AsyncSession,
    topic: str,
    aggregate_type: str,
    aggregate_id: str,
    payload: dict[str, Any] | None = None,
    *,
    customer_id: uuid.UUID | None = None,
) -> None:
    """Queue an event, written when ``session`` commits; ``payload`` holds ids and states,
    never PII. ``customer_id`` is the customer whose business it is (None for the company's
    own, such as a product published): it decides who may read the event. The current
    span's trace context goes with it, so the jobs it causes join the trace that caused it."""
    _PENDING.add(
        session,
        {
            "occurred_at": clock.now(),
            "topic": topic,
            "aggregate_type": aggregate_type,
            "aggregate_id": aggregate_id,
            "payload": payload or {},
            "customer_id": customer_id,
            "traceparent": current_traceparent(),
        },
    )


# insert=True: before the audit chain's hook, so its lock is not held for this statement.
@event.listens_for(Session, "before_commit", insert=True)
def _write_on_commit(session: Session) -> None:
    if at_real_commit(session) and (rows := _PENDING.take(session)):
        session.connection().execute(_INSERT, rows)
