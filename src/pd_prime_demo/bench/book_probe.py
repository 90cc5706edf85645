"""What ``bench book`` measures of each phase: a process's wall time, CPU and peak memory (its
own, from ``wait4`` for a child that ran to its end, from ``/proc`` for a server still running),
the rows the database touched (``pg_stat_user_tables`` deltas of the scratch database: every
backend flushes its counts when its process ends, and each phase's processes have ended when
they are read), and the machine's load.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from pd_prime_demo.bench.book_travel import MARK

_TICK = os.sysconf("SC_CLK_TCK")
_ROWS = (
    "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint, "
    "coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)::bigint "
    "FROM pg_stat_user_tables"
)


@dataclass(slots=True)
class Phase:
    """One measured step: ``cpu`` is the measured processes' own (user + system)."""

    name: str
    wall: float = 0.0
    cpu: float = 0.0
    peak_mb: float = 0.0
    written: int = 0
    read: int = 0
    postgres_cpu: float | None = None
    load: float = 0.0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def plain_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _rows(dsn: str) -> tuple[int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(_ROWS)
        assert row is not None
        return int(row[0]), int(row[1])
    finally:
        await conn.close()


async def query(dsn: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


class BackendCpu(threading.Thread):
    """CPU of the PostgreSQL backends serving one database, polled from ``/proc`` (a backend's
    title names its database): the phase's own, on a machine other work shares. A backend
    that lives less than a poll, and parallel query workers, are missed."""

    def __init__(self, database: str) -> None:
        super().__init__(daemon=True)
        self.marker, self.done = f" {database} ".encode(), threading.Event()
        self.seen: dict[int, tuple[float, float]] = {}  # pid: (first, last) CPU seen

    def poll(self) -> None:
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                if self.marker not in (entry / "cmdline").read_bytes().replace(b"\0", b" "):
                    continue
                cpu = proc_cpu(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
            first = self.seen.get(int(entry.name), (cpu, cpu))[0]
            self.seen[int(entry.name)] = (first, cpu)

    def run(self) -> None:
        while not self.done.wait(0.5):
            self.poll()

    def stop(self, *, started_before: set[int]) -> float:
        self.done.set()
        self.join()
        self.poll()
        # A backend already running when the phase began counts from then; a new one whole.
        return sum(
            float(last - first if pid in started_before else last)
            for pid, (first, last) in self.seen.items()
        )


class Meter:
    """Brackets a phase: rows, the CPU of the database's backends and the time around it."""

    def __init__(self, dsn: str, name: str) -> None:
        self.dsn, self.phase = dsn, Phase(name)
        self.database = make_url(dsn).database or ""

    def __enter__(self) -> Phase:
        self._rows = asyncio.run(_rows(self.dsn))
        self._backends = BackendCpu(self.database)
        self._backends.poll()
        self._before = set(self._backends.seen)
        self._backends.start()
        self._started = time.perf_counter()
        return self.phase

    def __exit__(self, *exc: object) -> None:
        phase = self.phase
        phase.wall = phase.wall or time.perf_counter() - self._started
        phase.postgres_cpu = self._backends.stop(started_before=self._before)
        if exc[0] is None:
            written, read = asyncio.run(_rows(self.dsn))
            phase.written, phase.read = written - self._rows[0], read - self._rows[1]
        phase.load = os.getloadavg()[0]


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "PD_PRIME_ENV": "demo",
        "PD_PRIME_LOG_LEVEL": "WARNING",
        "PD_PRIME_DATA_DIR": str(data_dir),
        "PD_PRIME_RATE_LIMITS_ENABLED": "false",
    }


@dataclass(frozen=True, slots=True)
class Ran:
    wall: float
    cpu: float
    peak_mb: float
    output: str
    figures: dict[str, Any]


class Processes:
    """Starts the bench's processes on the scratch database, each on a simulated day."""

    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.env = _env(database_url, data_dir)

    def start(self, day: date, *args: str) -> tuple[subprocess.Popen[bytes], Any]:
        out = tempfile.TemporaryFile()  # noqa: SIM115 - read back after the process ends
        argv = [sys.executable, "-m", "pd_prime_demo.bench.book_travel", day.isoformat(), *args]
        proc = subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        return proc, out

    def finish(
        self, proc: subprocess.Popen[bytes], out: Any, started: float, *, check: bool = True
    ) -> Ran:
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        out.seek(0)
        text = out.read().decode(errors="replace")
        out.close()
        if check and proc.returncode != 0:
            raise RuntimeError(f"{proc.args!r} exited {proc.returncode}:\n{text[-3000:]}")
        figures: dict[str, Any] = {}
        for line in text.splitlines():
            if line.startswith(MARK):
                figures = json.loads(line.removeprefix(MARK))
        return Ran(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text, figures)

    def run(self, day: date, *args: str) -> Ran:
        started = time.perf_counter()
        return self.finish(*self.start(day, *args), started)

    def run_many(self, day: date, argvs: list[list[str]], *, check: bool = True) -> list[Ran]:
        """Several at once (the workers of one day)."""
        started = time.perf_counter()
        running = [self.start(day, *argv) for argv in argvs]
        return [self.finish(proc, out, started, check=check) for proc, out in running]


def proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def proc_memory(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) in MiB."""
    found = {"VmRSS": 0.0, "VmHWM": 0.0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in found:
            found[key] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


class Server:
    """A fresh uvicorn serving the app (one process): its peak memory is this phase's."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "pd_prime_demo.main:app_factory",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(argv, env=env)  # noqa: S603 - our interpreter and module

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=120)


Echo = Callable[[str], object]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
