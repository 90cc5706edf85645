"""One live-updates WebSocket: authenticate with a ticket, replay, then follow.

1. The query is checked (4422), then the ticket redeemed (4401; it is gone either way): the
   login session or API client it was bought with must still authenticate.
2. With ``last_event_id`` the events after it are replayed from the database, page by page,
   with the stream's own filter (``events.read_stream``), up to the head of the stream; each
   page is sent only if the ticket's credential still stands.
3. The connection subscribes to the process's hub, which names the position its queue starts
   after; whatever lies between the replay and that position is replayed too. From then on
   the queue is sent, skipping what the replay already sent: no gap and no repeat.
4. Idle, it sends a heartbeat naming the position it is caught up to. It closes when the
   access token behind the ticket expires, or the hub finds its login session ended or its
   API client revoked (4401: log in, resume with a new ticket), when the client
   lags behind its queue or does not take a message within ``SEND_TIMEOUT`` seconds (4408),
   or when the process stops (1001).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Permission
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.telemetry import WEBSOCKET_CONNECTIONS
from pd_prime_demo.events import service as events
from pd_prime_demo.realtime import service
from pd_prime_demo.realtime.hub import Delivery, Hub, Signal, Subscription
from pd_prime_demo.realtime.rules import (
    PONG,
    CloseCode,
    Holder,
    Request,
    frame,
    heartbeat,
    is_ping,
    parse_request,
)

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 15.0
SEND_TIMEOUT = 10.0
REPLAY_PAGE = 200


@dataclass(frozen=True, slots=True)
class Closing:
    code: CloseCode
    reason: str


REVOKED = Closing(CloseCode.UNAUTHENTICATED, "the login session or API client ended: log in")


class _ClientGoneError(Exception):
    """The client went away or stopped taking messages."""


class _RevokedError(Exception):
    """The ticket's login session or API client no longer authenticates."""


class Connection:
    def __init__(self, websocket: WebSocket, runtime: Runtime, hub: Hub) -> None:
        self.ws = websocket
        self.runtime = runtime
        self.hub = hub
        self.sent = 0  # the last position sent (or known to hold nothing for this client)
        self._sending = asyncio.Lock()

    async def serve(self) -> None:
        await self.ws.accept()
        WEBSOCKET_CONNECTIONS.inc()
        try:
            closing = await self._authenticated_session()
            if closing is not None:
                await self._close(closing)
        finally:
            WEBSOCKET_CONNECTIONS.dec()

    async def _authenticated_session(self) -> Closing | None:
        match parse_request(list(self.ws.query_params.multi_items())):
            case str(why):
                return Closing(CloseCode.INVALID, why)
            case Request() as request:
                pass
        match events.parse_types(request.types):
            case Err(error):
                return Closing(CloseCode.INVALID, error.detail[:120])
            case Ok(types):
                pass
        match await service.redeem_ticket(self.runtime.cache, request.ticket):
            case Err(error):
                return Closing(CloseCode.UNAUTHENTICATED, error.detail[:120])
            case Ok(holder):
                pass
        try:
            async with self.runtime.db.sessionmaker() as session:
                lapsed = await service.lapsed(session, [holder])
        except Exception:
            log.exception("realtime.credential_check_failed")
            return Closing(CloseCode.TRY_AGAIN_LATER, "live updates are unavailable")
        if lapsed:
            return REVOKED
        if not holder.actor.has(Permission.EVENTS_READ):
            return Closing(CloseCode.FORBIDDEN, "this login may not read events")
        log.info("realtime.connected", actor=holder.actor.id, last_event_id=request.last_event_id)
        reader = asyncio.create_task(self._read())
        writer = asyncio.create_task(self._write(holder, request, types))
        try:
            done, _ = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, writer):
                task.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)
        if writer in done and not writer.cancelled() and writer.exception() is None:
            return writer.result()
        return None

    async def _read(self) -> None:
        """Until the client goes: pings are answered, anything else is ignored."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None and is_ping(text):
                await self._send(PONG)

    async def _send(self, text: str) -> None:
        async with self._sending:
            try:
                await asyncio.wait_for(self.ws.send_text(text), timeout=SEND_TIMEOUT)
            except (TimeoutError, WebSocketDisconnect, RuntimeError, OSError) as exc:
                raise _ClientGoneError from exc

    async def _replay(self, holder: Holder, types: events.TypeFilter, *, until: int) -> None:
        """Send what the stream holds after ``self.sent``, at least up to ``until``."""
        while True:
            async with self.runtime.db.sessionmaker() as session:
                read = await events.read_stream(
                    session, actor=holder.actor, after=self.sent, types=types, limit=REPLAY_PAGE
                )
                # After the page: a logout committed before it was read withholds it.
                if await service.lapsed(session, [holder]):
                    raise _RevokedError
            if isinstance(read, Err):  # the actor's permissions were checked: cannot happen
                raise RuntimeError(read.error.detail)
            for event in read.value.events:
                await self._send(frame(events.message(event)))
            self.sent = max(self.sent, read.value.next_cursor)
            if len(read.value.events) < REPLAY_PAGE and self.sent >= until:
                return

    async def _write(
        self, holder: Holder, request: Request, types: events.TypeFilter
    ) -> Closing | None:
        try:
            if request.last_event_id is not None:
                self.sent = request.last_event_id
                await self._replay(holder, types, until=0)
            try:
                subscription = await self.hub.subscribe(self.runtime.db, holder, types)
            except Exception:
                log.exception("realtime.subscribe_failed")
                return Closing(CloseCode.TRY_AGAIN_LATER, "live updates are unavailable")
            try:
                if request.last_event_id is None:
                    self.sent = subscription.since
                elif subscription.since > self.sent:
                    await self._replay(holder, types, until=subscription.since)
                return await self._follow(holder, subscription)
            finally:
                self.hub.unsubscribe(subscription)
        except _ClientGoneError:
            return None
        except _RevokedError:
            return REVOKED

    async def _follow(self, holder: Holder, subscription: Subscription) -> Closing:
        while True:
            left = (holder.valid_until - clock.now()).total_seconds()
            if left <= 0:
                return Closing(CloseCode.UNAUTHENTICATED, "the access token expired: resume")
            try:
                item = await asyncio.wait_for(
                    subscription.queue.get(), timeout=min(HEARTBEAT_SECONDS, left)
                )
            except TimeoutError:
                if subscription.queue.empty() and subscription.ended is None:
                    self.sent = max(self.sent, self.hub.position)
                    await self._send(heartbeat(self.sent))
                continue
            match item:
                case Signal.LAGGING:
                    return Closing(CloseCode.TOO_SLOW, "fell behind: resume with last_event_id")
                case Signal.SHUTDOWN:
                    return Closing(CloseCode.GOING_AWAY, "the server is stopping: resume")
                case Signal.REVOKED:
                    return REVOKED
                case Delivery() if subscription.ended is Signal.REVOKED:
                    return REVOKED  # what waits was published before, but the socket is over
                case Delivery() as delivery if delivery.position > self.sent:
                    await self._send(delivery.text)
                    self.sent = delivery.position

    async def _close(self, closing: Closing) -> None:
        log.info("realtime.closed", code=int(closing.code), reason=closing.reason)
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError, TimeoutError):
            await asyncio.wait_for(
                self.ws.close(int(closing.code), closing.reason), timeout=SEND_TIMEOUT
            )
