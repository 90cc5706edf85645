"""The read side of ``bench book``: each phase against a fresh server (its peak memory is the
phase's), and the ledger check and audit verification as the CLI runs them."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx

from pd_prime_demo.bench.api import free_port
from pd_prime_demo.bench.book_probe import (
    Meter,
    Phase,
    Processes,
    Server,
    percentile,
    proc_cpu,
    proc_memory,
    query,
)

ADMIN = {"grant_type": "password", "username": "admin@demo.pdprime.example"}
# Cheap calls of each route measured: a one-day report of a day long before any policy.
WARM_UP: tuple[tuple[str, dict[str, str]], ...] = (
    ("/api/v1/reports/premium", {"start": "2000-01-03", "end": "2000-01-03"}),
    ("/api/v1/ledger/trial-balance", {}),
    ("/api/v1/policies", {"limit": "1"}),
)
Work = Callable[[httpx.AsyncClient, dict[str, str], Phase], Awaitable[None]]


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    for _ in range(900):  # a busy machine imports the app slowly
        try:
            # Liveness, not readiness: readiness also checks migrations, which is not measured.
            if (await client.get("/health")).status_code == 200:
                break
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    else:
        raise RuntimeError("the benchmark server did not become ready")
    from pd_prime_demo.seed import DEMO_PASSWORD

    answer = await client.post("/api/v1/auth/token", data={**ADMIN, "password": DEMO_PASSWORD})
    answer.raise_for_status()
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def _served(server: Server, phase: Phase, work: Work) -> None:
    async with httpx.AsyncClient(base_url=server.base, timeout=3600) as client:
        headers = await _login(client)
        pid = server.proc.pid
        # Warmed up (the routes' first use imports and builds what every later one shares),
        # then the peak reset to what is resident: the phase's peak is then its own.
        for path, params in WARM_UP:
            await client.get(path, params=params, headers=headers)
        phase.extra["peak reset"] = reset_peak(pid)
        rss, _ = proc_memory(pid)
        cpu, started = proc_cpu(pid), time.perf_counter()
        await work(client, headers, phase)
        phase.wall = time.perf_counter() - started
        phase.cpu = proc_cpu(pid) - cpu
        after, peak = proc_memory(pid)
        phase.peak_mb = peak
        phase.extra["rss before MiB"] = rss
        phase.extra["rss after MiB"] = after


def reset_peak(pid: int) -> bool:
    """Reset a process's peak resident size (VmHWM) to its resident size now (Linux's
    ``clear_refs``; False where it cannot be, and the peak is then since the start)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _serve(procs: Processes, dsn: str, name: str, work: Work) -> Phase:
    with Meter(dsn, name) as phase:
        server = Server(procs.env, free_port())
        try:
            asyncio.run(_served(server, phase, work))
        finally:
            server.stop()
    return phase


def _get_once(path: str, params: dict[str, str]) -> Work:
    async def work(client: httpx.AsyncClient, headers: dict[str, str], phase: Phase) -> None:
        answer = await client.get(path, params=params, headers=headers)
        phase.note = f"HTTP {answer.status_code}, {len(answer.content):,} bytes"
        if answer.status_code != 200:
            phase.note += f": {answer.text[:200]}"

    return work


def _requests(ids: list[str], on: date, pages: int) -> Work:
    """Sequential requests (latency, not throughput): policy pages followed by their cursor,
    a policy read and an as-of read of each sampled policy."""

    async def work(client: httpx.AsyncClient, headers: dict[str, str], phase: Phase) -> None:
        times: dict[str, list[float]] = {"list page": [], "policy read": [], "as-of read": []}
        failed = 0

        async def timed(kind: str, path: str, params: dict[str, str]) -> httpx.Response:
            nonlocal failed
            started = time.perf_counter()
            answer = await client.get(path, params=params, headers=headers)
            times[kind].append(time.perf_counter() - started)
            failed += answer.status_code != 200
            return answer

        for policy_id in ids[:10]:  # warm up
            await client.get(f"/api/v1/policies/{policy_id}", headers=headers)
        for _ in range(max(1, len(ids) // (pages * 2))):
            cursor: str | None = None
            for _ in range(pages):
                params = {"limit": "50", **({"cursor": cursor} if cursor else {})}
                cursor = (
                    (await timed("list page", "/api/v1/policies", params)).json().get("next_cursor")
                )
                if not cursor:
                    break
        for policy_id in ids:
            await timed("policy read", f"/api/v1/policies/{policy_id}", {})
            await timed("as-of read", f"/api/v1/policies/{policy_id}", {"as_of": on.isoformat()})
        for kind, values in times.items():
            phase.extra[f"{kind} p50 ms"] = percentile(values, 0.5) * 1000
            phase.extra[f"{kind} p99 ms"] = percentile(values, 0.99) * 1000
            phase.extra[f"{kind} n"] = len(values)
        phase.note = f"{sum(len(v) for v in times.values())} requests, {failed} not 200"

    return work


def _cli(procs: Processes, dsn: str, today: date, name: str, *args: str) -> Phase:
    with Meter(dsn, name) as phase:
        try:
            ran = procs.run(today, "cli", *args)
            phase.cpu, phase.peak_mb = ran.cpu, ran.peak_mb
            lines = [line for line in ran.output.splitlines() if not line.startswith("{")]
            phase.note = " ".join(lines)[:160]
            if found := re.search(r"(\d+) entries verified", ran.output):
                phase.extra["entries"] = int(found.group(1))
        except RuntimeError as error:
            phase.note = f"FAILED: {str(error)[-160:]}"
    return phase


def read_side(
    procs: Processes, settings: Any, dsn: str, today: date, start: date, samples: int
) -> list[Phase]:
    rows = asyncio.run(
        query(dsn, "SELECT id::text FROM policies ORDER BY random() LIMIT $1", samples)
    )
    ids = [r[0] for r in rows]
    month = {"start": (start + timedelta(days=1)).isoformat(), "end": today.isoformat()}
    year = {"start": (today - timedelta(days=364)).isoformat(), "end": today.isoformat()}
    return [
        _serve(procs, dsn, "premium report, month", _get_once("/api/v1/reports/premium", month)),
        _serve(procs, dsn, "premium report, year", _get_once("/api/v1/reports/premium", year)),
        _serve(procs, dsn, "trial balance (HTTP)", _get_once("/api/v1/ledger/trial-balance", {})),
        _serve(procs, dsn, "requests", _requests(ids, today - timedelta(days=90), pages=20)),
        _cli(procs, dsn, today, "ledger check (CLI)", "ledger", "check"),
        _cli(procs, dsn, today, "audit verify (CLI)", "audit", "verify"),
    ]
