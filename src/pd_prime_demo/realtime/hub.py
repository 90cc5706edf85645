"""The fan-out of one server process: one listener, one read per batch, every socket fed.

The relay announces each newly published head on ``pd_prime_events`` in the transaction that
numbers the events, so a notification arrives only once they are committed. The hub holds the
process's one ``LISTEN`` connection; woken, it reads the events after the last position it
dispatched, once, works out with one query per kind of viewer which connected viewers may see
them (``events.recipients``), and puts each event on the queue of every subscription that may
see it and asked for its type. Every few seconds it reads anyway, in case a notification was
lost with a connection.

A subscription's queue is bounded: a connection that does not keep up is ended (``LAGGING``)
rather than allowed to hold more; its client resumes from the last id it got. Reading a batch
and dispatching it happen under one lock that subscribing takes too, so a subscription starts
exactly between two batches, at the position the hub returns: it receives every event after
that position and nothing before it.

The hub starts with the first subscription (a process no one connects to never listens).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from dataclasses import dataclass, field

import asyncpg
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.database import Database
from pd_prime_demo.core.queue import conninfo
from pd_prime_demo.events import service as events
from pd_prime_demo.realtime import service
from pd_prime_demo.realtime.rules import Holder, frame

log = structlog.get_logger(__name__)


class Signal(enum.Enum):
    LAGGING = "lagging"  # the queue was full: the connection is ended
    SHUTDOWN = "shutdown"  # the process is stopping
    REVOKED = "revoked"  # the login session or API client behind the ticket ended


@dataclass(frozen=True, slots=True)
class Delivery:
    position: int
    text: str  # the message, serialised once per batch for every socket


@dataclass(eq=False, slots=True)
class Subscription:
    audience: events.Audience
    types: events.TypeFilter
    holder: Holder
    capacity: int
    since: int = 0
    # One slot more than ``capacity``: the signal that ends it always fits.
    queue: asyncio.Queue[Delivery | Signal] = field(init=False)
    ended: Signal | None = None

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.capacity + 1)

    def offer(self, delivery: Delivery) -> bool:
        if self.queue.qsize() >= self.capacity:
            self.end(Signal.LAGGING)
            return False
        self.queue.put_nowait(delivery)
        return True

    def end(self, signal: Signal) -> None:
        if self.ended is None:
            self.ended = signal
            self.queue.put_nowait(signal)


class Hub:
    def __init__(
        self, *, poll_seconds: float = 5.0, batch: int = 500, capacity: int = 1000
    ) -> None:
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.capacity = capacity
        self._subscriptions: set[Subscription] = set()
        self._position = 0
        self._db: Database | None = None
        self._dsn = ""
        self._listener: asyncpg.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._starting = asyncio.Lock()
        self._dispatching = asyncio.Lock()

    @property
    def position(self) -> int:
        """Every event up to here has been put on the queues of those who may see it."""
        return self._position

    @property
    def connections(self) -> int:
        return len(self._subscriptions)

    async def subscribe(
        self, db: Database, holder: Holder, types: events.TypeFilter
    ) -> Subscription:
        """A subscription receiving every event after its ``since`` that ``holder`` may see,
        while its credential lasts."""
        await self._start(db)
        audience = events.audience_of(holder.actor)
        async with self._dispatching:
            subscription = Subscription(
                audience, types, holder, self.capacity, since=self._position
            )
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            subscription.end(Signal.SHUTDOWN)
        self._subscriptions.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._unlisten()

    async def _start(self, db: Database) -> None:
        if self._task is not None:
            return
        async with self._starting:
            if self._task is not None:
                return
            self._db, self._dsn = db, conninfo(db.url)
            await self._listen()  # first: a head committed after the read below wakes us
            async with db.sessionmaker() as session:
                self._position = await events.head(session)
            self._task = asyncio.create_task(self._run(), name="realtime-hub")

    def _notified(self, *_: object) -> None:
        self._wake.set()

    async def _listen(self) -> None:
        try:
            listener = await asyncpg.connect(self._dsn)
            await listener.add_listener(events.EVENTS_CHANNEL, self._notified)
            listener.add_termination_listener(self._notified)
        except (OSError, asyncpg.PostgresError):
            log.warning("realtime.listen_failed", exc_info=True)  # polling until it is back
            return
        self._listener = listener

    async def _unlisten(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None and not listener.is_closed():
            with contextlib.suppress(OSError, asyncpg.PostgresError):
                await listener.close()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()
            if self._listener is None or self._listener.is_closed():
                await self._unlisten()
                await self._listen()
            try:
                await self._catch_up()
            except Exception:  # the database may be restarting: the next round reads again
                log.exception("realtime.fanout_failed")

    async def _catch_up(self) -> None:
        assert self._db is not None
        while True:
            async with self._dispatching, self._db.sessionmaker() as session:
                if not self._subscriptions:  # nobody to feed: just keep up with the head
                    self._position = max(self._position, await events.head(session))
                    return
                batch = await events.published_after(session, self._position, limit=self.batch)
                await self._end_lapsed(session)
                if not batch:
                    return
                subscriptions = list(self._subscriptions)
                allowed = await events.recipients(
                    session, batch, (s.audience for s in subscriptions)
                )
                self._dispatch(batch, subscriptions, allowed)
                self._position = batch[-1].position
            if len(batch) < self.batch:
                return

    async def _end_lapsed(self, session: AsyncSession) -> None:
        subscriptions = list(self._subscriptions)
        lapsed = await service.lapsed(session, (s.holder for s in subscriptions))
        for subscription in subscriptions:
            if subscription.holder in lapsed:
                subscription.end(Signal.REVOKED)
                self._subscriptions.discard(subscription)

    def _dispatch(
        self,
        batch: list[events.Published],
        subscriptions: list[Subscription],
        allowed: events.Recipients,
    ) -> None:
        for event in batch:
            delivery: Delivery | None = None
            for subscription in subscriptions:
                if subscription.ended is not None or not subscription.types.admits(event.type):
                    continue
                if not events.admits(subscription.audience, event, allowed):
                    continue
                delivery = delivery or Delivery(event.position, frame(events.message(event)))
                if not subscription.offer(delivery):
                    self._subscriptions.discard(subscription)
