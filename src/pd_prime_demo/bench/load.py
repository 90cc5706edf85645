"""Load generation shared by the API benchmarks: closed-loop clients, interleaved rounds.

Each comparison runs the real endpoint and its baseline in alternating rounds and reports the
median of each, so a slow spell on a shared machine lands on both sides instead of on one. It
also reports the server's CPU time per request (from ``/proc``, summed over the server process
and its workers): unlike throughput, that figure does not depend on whether the load generator,
which shares the machine, was the bottleneck. Run under valgrind's callgrind (``bench api
--callgrind``), the server also reports the instructions it executed per request: a count that
does not move with the machine's load or speed, for comparing two versions of the code.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

Request = tuple[str, str, dict[str, Any] | None, dict[str, str]]
MakeRequest = Callable[[], Request | None]


@dataclass(frozen=True, slots=True)
class Run:
    rate: float  # successful requests per second
    failed: int
    server_cpu_ms: float | None  # per successful request
    server_instructions: float | None = None  # per successful request, under callgrind


@dataclass(frozen=True, slots=True)
class Comparison:
    real: Run
    baseline: Run

    @property
    def ratio(self) -> float:
        return self.real.rate / self.baseline.rate if self.baseline.rate else 0.0

    @property
    def instruction_ratio(self) -> float | None:
        """The baseline's server instructions per request over the real endpoint's: the
        throughput ratio a server-bound machine would show, free of timing noise."""
        real, baseline = self.real.server_instructions, self.baseline.server_instructions
        return baseline / real if real and baseline else None


class ServerCpu:
    """CPU seconds used so far by a process and its children (uvicorn's workers)."""

    _tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def seconds(self) -> float | None:
        proc = Path("/proc")
        if not (proc / str(self.pid)).exists():
            return None  # not Linux, or the server is gone
        total = 0
        for stat in proc.glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # a process that ended while we looked
            pid, ppid = int(stat.parent.name), int(fields[1])
            if self.pid in (pid, ppid):
                total += int(fields[11]) + int(fields[12])  # utime + stime
        return total / self._tick


class ServerInstructions:
    """Instructions executed so far by a server that runs under valgrind's callgrind."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def count(self) -> int | None:
        try:
            report = subprocess.run(  # noqa: S603 - valgrind's own tool, our own pid
                ["callgrind_control", "-e", "-b", str(self.pid)],  # noqa: S607
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            ).stdout
        except (OSError, subprocess.TimeoutExpired):
            return None
        return callgrind_total(report)


_THREAD_TOTAL = re.compile(r"^\s*Th\s+\d+\s+([\d,]+)\s*$", re.MULTILINE)


def callgrind_total(report: str) -> int | None:
    """The instructions of every thread in ``callgrind_control -e -b`` output, summed."""
    counts = [int(found.replace(",", "")) for found in _THREAD_TOTAL.findall(report)]
    return sum(counts) if counts else None


async def drive(
    client: httpx.AsyncClient,
    make: MakeRequest,
    *,
    seconds: float,
    concurrency: int,
    cpu: ServerCpu | None = None,
    instructions: ServerInstructions | None = None,
) -> Run:
    """``concurrency`` clients send requests back to back for ``seconds``."""
    deadline = time.perf_counter() + seconds
    done = failed = 0

    async def worker() -> None:
        nonlocal done, failed
        while time.perf_counter() < deadline:
            request = make()
            if request is None:
                return
            method, url, body, headers = request
            try:
                response = await client.request(method, url, json=body, headers=headers)
            except httpx.TransportError:
                failed += 1
                continue
            if response.status_code in (200, 201):
                done += 1
            else:
                failed += 1

    cpu_before = cpu.seconds() if cpu else None
    counted_before = instructions.count() if instructions else None
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    counted_after = instructions.count() if instructions else None
    cpu_after = cpu.seconds() if cpu else None
    cpu_ms = per_request = None
    if cpu_before is not None and cpu_after is not None and done:
        cpu_ms = (cpu_after - cpu_before) * 1000 / done
    if counted_before is not None and counted_after is not None and done:
        per_request = (counted_after - counted_before) / done
    return Run(done / elapsed, failed, cpu_ms, per_request)


async def compare(
    client: httpx.AsyncClient,
    real: MakeRequest,
    baseline: MakeRequest,
    *,
    seconds: float,
    concurrency: int,
    rounds: int = 3,
    cpu: ServerCpu | None = None,
    instructions: ServerInstructions | None = None,
) -> Comparison:
    """Alternate ``rounds`` rounds of each (``seconds`` in all per side); medians of each."""
    share = seconds / rounds
    runs: dict[str, list[Run]] = {"real": [], "baseline": []}
    for _ in range(rounds):
        for name, make in (("real", real), ("baseline", baseline)):
            runs[name].append(
                await drive(
                    client,
                    make,
                    seconds=share,
                    concurrency=concurrency,
                    cpu=cpu,
                    instructions=instructions,
                )
            )
    return Comparison(_median(runs["real"]), _median(runs["baseline"]))


def _median(runs: list[Run]) -> Run:
    cpu = [r.server_cpu_ms for r in runs if r.server_cpu_ms is not None]
    counted = [r.server_instructions for r in runs if r.server_instructions is not None]
    return Run(
        statistics.median(r.rate for r in runs),
        sum(r.failed for r in runs),
        statistics.median(cpu) if cpu else None,
        statistics.median(counted) if counted else None,
    )


async def agent_quote(client: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, Any]]:
    """Log in as the demo agent: their bearer headers, and a valid auto quote for a customer."""
    from datetime import timedelta

    from pd_prime_demo.core import clock
    from pd_prime_demo.quotes.schemas import AUTO_EXAMPLE

    tokens = (
        await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "password",
                "username": "agent@demo.pdprime.example",
                "password": "prime-demo-pass",
            },
        )
    ).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    customer = (await client.get("/api/v1/customers", headers=headers)).json()["items"][0]["id"]
    body = {
        **AUTO_EXAMPLE,
        "customer_id": customer,
        "effective_on": (clock.today() + timedelta(days=10)).isoformat(),
    }
    return headers, body


def describe_ratio(name: str, compared: Comparison) -> str:
    """The throughput ratio, and under callgrind the instruction ratio."""
    line = f"  {name}: {compared.ratio:.0%}"
    if compared.instruction_ratio is not None:
        line += f"; in server instructions per request: {compared.instruction_ratio:.0%}"
    return line


def describe(name: str, run: Run) -> str:
    cpu = f"{run.server_cpu_ms:6.2f} ms server CPU/req" if run.server_cpu_ms else ""
    if run.server_instructions:
        cpu += f"  {run.server_instructions / 1e6:7.2f} M instructions/req"
    return f"  {name:<24} {run.rate:8.1f} req/s  ({run.failed} failed)  {cpu}".rstrip()


def percentile(values: list[float], p: int) -> float:
    """The ``p``-th percentile of ``values`` (inclusive method; a single value is its own)."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]
