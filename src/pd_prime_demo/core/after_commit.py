"""Work done only once a transaction has committed: business metrics, mostly.

A counter of policies bound must not count a bind that rolled back (an ``Err`` after the flush,
a failed commit, a savepoint given up). :func:`after_commit` keeps the callback beside the
savepoint open when it was registered (``core.at_commit``), so a rolled-back savepoint or
transaction drops it, and runs it after the outermost commit. A callback must be cheap and must
not fail (a metric increment): the transaction has committed whatever it does.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from pd_prime_demo.core.at_commit import AtCommit, at_real_commit

log = structlog.get_logger(__name__)

_CALLBACKS: AtCommit[Callable[[], None]] = AtCommit("pd_prime.after_commit")


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run ``callback`` once ``session``'s transaction has committed (never if it rolls back)."""
    _CALLBACKS.add(session, callback)


@event.listens_for(Session, "after_commit")
def _run(session: Session) -> None:
    # after_commit also fires when a savepoint is released: the callbacks wait for the real one.
    if not at_real_commit(session):
        return
    for callback in _CALLBACKS.take(session):
        try:
            callback()
        except Exception:  # a metric must never turn a committed change into an error
            log.exception("after_commit.callback_failed")
