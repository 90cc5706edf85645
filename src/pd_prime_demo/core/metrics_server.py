"""What a scrape answers, in every process shape, and the metrics' own listen address.

**One process** (``pd-prime serve``, ``pd-prime worker``): the scrape reads
``core.telemetry.REGISTRY``.

**Several processes** (``pd-prime serve --workers N``): ``prepare_multiprocess_dir`` sets
``PROMETHEUS_MULTIPROC_DIR`` (a fresh directory under the data dir) in the parent before uvicorn
spawns the workers. They are started fresh (multiprocessing's spawn) and inherit it, so
prometheus-client, which picks its value class when first imported, keeps every worker's values
in files there, and the scrape merges them (``MultiProcessCollector``): whichever process
answers, it sees them all. A worker that died leaves its files; uvicorn tells no one, so every
scrape first marks the processes that are gone (``mark_process_dead``), which drops their
``livesum`` gauges (requests in flight, pool connections, WebSockets), while their counters,
which must never go down, keep counting.

**Figures read at scrape time** (``figures``: the queue, the outbox, integrity checks, keys,
build, database up; see ``operations.metrics``) replace the catalogue's gauges of the same
names in the answer: computed afresh for this scrape, they are never summed across workers nor
left behind in a dead worker's file.

``serve_metrics`` serves that answer on ``metrics_listen`` / ``worker_metrics_listen``: an
internal address, so no token (the public port's ``/metrics`` wants the bearer token).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, generate_latest, start_wsgi_server
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from pd_prime_demo.core.telemetry import REGISTRY

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

Figures = Callable[[], Iterable[Metric]]


def prepare_multiprocess_dir(directory: Path) -> Path:
    """Empty ``directory`` (a previous run's values, and pids that may now be someone else's)
    and name it to this process's children (call before they are started)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # A killed worker its parent has not yet reaped is a zombie: dead all the same.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def forget_dead_processes(directory: str) -> list[int]:
    """Mark every process with files in ``directory`` that is no longer running; their pids."""
    pids: set[int] = set()
    for path in Path(directory).glob("*.db"):
        digits = path.stem.rpartition("_")[2]
        if digits.isdigit():
            pids.add(int(digits))
    dead = sorted(pid for pid in pids if not _alive(pid))
    for pid in dead:
        # Another worker's scrape may remove a file first (the reader allows for that too).
        with contextlib.suppress(FileNotFoundError):
            mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
    return dead


class Scrape(Collector):
    """The whole answer to one scrape: the process's (or every worker's) metrics, with the
    scrape-time figures in place of the catalogue's gauges of the same names."""

    def __init__(self, figures: Figures | None = None) -> None:
        self._figures = figures

    def collect(self) -> Iterator[Metric]:
        fresh = list(self._figures()) if self._figures is not None else []
        replaced = {family.name for family in fresh}
        directory = multiprocess_dir()
        if directory is None:
            kept: Iterable[Metric] = REGISTRY.collect()
        else:
            forget_dead_processes(directory)
            merged = MultiProcessCollector(CollectorRegistry(), directory)  # type: ignore[no-untyped-call]
            kept = merged.collect()  # type: ignore[no-untyped-call]
        yield from (family for family in kept if family.name not in replaced)
        yield from fresh


def render(figures: Figures | None = None) -> bytes:
    """The Prometheus text of one scrape."""
    return generate_latest(Scrape(figures))


def parse_listen(listen: str) -> tuple[str, int]:
    """``"host:port"`` (``"[::1]:9464"`` for IPv6) into its parts; ValueError if malformed.

    No host (``":9464"``) is this machine only: the port has no token, so every interface
    (``"0.0.0.0:9464"``, for a scraper on another host) must be asked for by name."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or int(port) >= 65536:  # 0: any free port
        raise ValueError(f"a metrics listen address is host:port, not {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class MetricsServer:
    """A running metrics server (threaded; a daemon thread, so it ends with the process)."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_metrics(listen: str | None, figures: Figures | None = None) -> MetricsServer | None:
    """Serve the process's metrics on ``listen`` ("host:port") in the background; None: not."""
    if listen is None:
        return None
    host, port = parse_listen(listen)
    server, thread = start_wsgi_server(port, host, registry=Scrape(figures))
    return MetricsServer(server, thread)
