"""A webhook receiver for ``pd-prime bench webhooks``: a thread on 127.0.0.1 that answers 204
at once, notes when each delivery first arrived and checks a sample of the signatures."""

from __future__ import annotations

import asyncio
import threading
import time

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

VERIFY_EVERY = 10  # the receiver checks one signature in this many
_NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"
_FORGED = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"


class Receiver:
    """A webhook receiver on 127.0.0.1, in a thread of its own: 204 at once to every request,
    the first arrival of each (path, ``webhook-id``) timed, every ``verify_every``-th request's
    signature checked with ``standardwebhooks`` (a forged one is answered 400)."""

    def __init__(self, *, verify_every: int = VERIFY_EVERY) -> None:
        self.secrets: dict[str, str] = {}  # path -> the subscription's signing secret
        self.first: dict[tuple[str, str], float] = {}  # (path, webhook-id) -> perf_counter
        self.requests = 0
        self.verified = 0
        self.forged = 0
        self.cpu_seconds = 0.0  # this thread's CPU time, as of the last request
        self.port = 0
        self._verify_every = verify_every
        self._lock = threading.Lock()
        self._target = 0
        self._arrived = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stopping: asyncio.Event | None = None
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-receiver", daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> Receiver:
        self._thread.start()
        if not self._listening.wait(10):
            raise RuntimeError("the webhook receiver did not start")
        return self

    def __exit__(self, *_: object) -> None:
        if self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)

    def expect(self, deliveries: int) -> None:
        """Wait (with :meth:`wait`) for this many distinct deliveries more."""
        with self._lock:
            self._target = len(self.first) + deliveries
            self._arrived.clear()

    def wait(self, timeout: float) -> bool:
        return self._arrived.wait(timeout)

    def _run(self) -> None:
        async def serve() -> None:
            self._stopping = asyncio.Event()
            server = await asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=1024)
            self.port = server.sockets[0].getsockname()[1]
            self._listening.set()
            async with server:
                await self._stopping.wait()

        self._loop.run_until_complete(serve())
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:  # keep-alive, though each attempt opens a connection of its own
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                path = head[0].split(" ")[1]
                headers = {
                    name.strip().lower(): value.strip()
                    for name, value in (line.split(":", 1) for line in head[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                writer.write(_NO_CONTENT if self._receive(path, headers, body) else _FORGED)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client closed the connection: the usual end
        finally:
            writer.close()

    def _receive(self, path: str, headers: dict[str, str], body: bytes) -> bool:
        """Count and time the request; whether it is answered 2xx."""
        now = time.perf_counter()
        with self._lock:
            self.requests += 1
            sample = self.requests % self._verify_every == 1 or self._verify_every == 1
            self.first.setdefault((path, headers.get("webhook-id", "")), now)
            if len(self.first) >= self._target:
                self._arrived.set()
        genuine = True
        if sample:
            try:
                Webhook(self.secrets[path]).verify(body, headers)
            except (KeyError, WebhookVerificationError):
                genuine = False
            with self._lock:
                self.verified += genuine
                self.forged += not genuine
        self.cpu_seconds = time.thread_time()
        return genuine
