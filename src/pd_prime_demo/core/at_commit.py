"""Rows a transaction writes only as it commits: audit entries and outbox events.

Appending them at commit, all at once, costs one statement per kind and transaction instead of
ORM bookkeeping for every row, and lets the audit chain hold its lock only for that statement.
A row is kept in ``session.info`` with the savepoint that was open when it was recorded, so a
savepoint that rolls back (``begin_nested``) drops the rows recorded inside it, and a
transaction that rolls back drops them all. The owner of each kind writes them from its own
``before_commit`` hook with :meth:`AtCommit.take`.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

T = TypeVar("T")
_KEYS: list[str] = []


class AtCommit(Generic[T]):
    """One kind of row recorded during a transaction and written when it commits."""

    def __init__(self, key: str) -> None:
        if key in _KEYS:
            raise ValueError(f"{key} is already registered")
        _KEYS.append(key)
        self.key = key

    def add(self, session: AsyncSession, row: T) -> None:
        savepoint = session.sync_session.get_nested_transaction()  # None: the transaction
        session.info.setdefault(self.key, []).append((savepoint, row))

    def take(self, session: Session) -> list[T]:
        """The rows recorded so far, in order; the caller writes them now."""
        return [row for _, row in session.info.pop(self.key, [])]


def at_real_commit(session: Session) -> bool:
    """``before_commit`` also fires when a savepoint is released; the rows wait for the commit."""
    return not session.in_nested_transaction()


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back_savepoint(session: Session, previous_transaction: SessionTransaction) -> None:
    if not previous_transaction.nested:
        return
    for key in _KEYS:
        if pending := session.info.get(key):
            pending[:] = [(sp, row) for sp, row in pending if not _inside(sp, previous_transaction)]


@event.listens_for(Session, "after_transaction_end")
def _drop_on_end(session: Session, transaction: SessionTransaction) -> None:
    # After a commit the hooks have taken everything; after a rollback this drops what is left.
    if transaction.parent is None:
        for key in _KEYS:
            session.info.pop(key, None)


def _inside(savepoint: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while savepoint is not None:
        if savepoint is ended:
            return True
        savepoint = savepoint.parent
    return False
