"""The performance gate's server: ``python -m pd_prime_demo.bench.gate_server PORT``.

The platform's app under uvicorn, as ``pd-prime serve`` runs it, less the two timers that
would make an idle server execute instructions: uvicorn's main loop wakes every 0.1 s (to
refresh its Date header and look for a shutdown), and it closes a keep-alive connection idle
for 5 s. Under callgrind the server is slow and the gate reads its counter between requests, so
either would add a number of instructions that grows with the wall time a request takes, that
is with the machine's load. Here the main loop waits for the shutdown signal instead of
polling, and the one client connection is kept open.
"""

from __future__ import annotations

import asyncio
import sys
from types import FrameType

import uvicorn


class QuietServer(uvicorn.Server):
    """uvicorn whose main loop sleeps until told to stop."""

    _stop: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        await self.on_tick(0)  # the Date header, once
        if not self.should_exit:
            await self._stop.wait()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)


def main(port: int) -> None:
    config = uvicorn.Config(
        "pd_prime_demo.main:app_factory",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=24 * 3600,
    )
    QuietServer(config).run()


if __name__ == "__main__":
    main(int(sys.argv[1]))
