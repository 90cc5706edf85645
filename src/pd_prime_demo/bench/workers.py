"""Worker processes for the benchmarks: each runs what ``pd-prime worker`` runs, started once
(a process takes seconds to import the platform) and idle until told to work, so that a timed
run starts no process."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from pd_prime_demo import bootstrap
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.logging import configure_logging

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.process import BaseProcess

# The worker's own pools, as ``pd-prime worker`` sizes them.
WORKER_POOL = {"db_pool_size": 4, "db_max_overflow": 4}


def demo_settings(url: str) -> Settings:
    """Demo settings (so that http to loopback may be called) on ``url``, logging warnings only
    (the worker logs every fan-out at INFO)."""
    settings = bootstrap.settings(demo=True).model_copy(
        update={"database_url": url, "log_level": "WARNING"}
    )
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def _work(url: str, commands: Connection) -> None:
    """One ``pd-prime worker`` process: ready once its imports and pools are, it works the
    queue from each ``go`` to the next ``stop`` and answers with the CPU time it used."""
    from pd_prime_demo.core.runtime import Runtime
    from pd_prime_demo.worker import queue_app, run_worker

    async def run() -> None:
        runtime = Runtime.create(demo_settings(url).model_copy(update=WORKER_POOL))
        try:
            queue_app(runtime)
            await runtime.queue.ready()
            commands.send("ready")
            while await asyncio.to_thread(commands.recv) == "go":
                started = time.process_time()
                worker = asyncio.create_task(run_worker(runtime, install_signal_handlers=False))
                await asyncio.to_thread(commands.recv)  # stop
                used = time.process_time() - started
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
                commands.send(used)
        finally:
            await runtime.close()

    asyncio.run(run())


class Workers:
    """``count`` worker processes, started once (a process takes seconds to import the
    platform) and idle until told to work: :meth:`working` runs the first few of them."""

    def __init__(self, url: str, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._processes: list[BaseProcess] = []
        for _ in range(count):
            ours, theirs = context.Pipe()
            self._pipes.append(ours)
            self._processes.append(context.Process(target=_work, args=(url, theirs)))

    def __enter__(self) -> Workers:
        for process in self._processes:
            process.start()
        for pipe, process in zip(self._pipes, self._processes, strict=True):
            try:
                ready = pipe.poll(180) and pipe.recv() == "ready"
            except EOFError:  # it died starting
                ready = False
            if not ready:
                self._end()
                raise RuntimeError(f"worker process {process.pid} did not start")
        return self

    @contextlib.contextmanager
    def working(self, count: int) -> Iterator[Callable[[], float]]:
        """``count`` workers at work inside the block; the block's value, called, stops them
        and gives the CPU time they used."""
        pipes = self._pipes[:count]
        for pipe in pipes:
            pipe.send("go")
        stopped: list[float] = []

        def stop() -> float:
            if not stopped:
                for pipe in pipes:
                    pipe.send("stop")
                stopped.append(sum(float(pipe.recv()) for pipe in pipes))
            return stopped[0]

        try:
            yield stop
        finally:
            stop()

    def _end(self) -> None:
        for pipe, process in zip(self._pipes, self._processes, strict=True):
            with contextlib.suppress(OSError):
                pipe.send("exit")
            process.join(30)
            if process.is_alive():
                process.terminate()
                process.join()

    def __exit__(self, *_: object) -> None:
        self._end()
