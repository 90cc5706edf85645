"""``pd-prime bench gate``: instructions per request against a committed baseline.

Wall time on a shared machine moves by tens of percent from one minute to the next; the
instructions a process executes do not. The gate counts them with valgrind's callgrind for
four requests through the real server and PostgreSQL (an auto quote, binding it, reading the
policy, a payment) and for the rating engine alone pricing the reference auto quote, and
fails when any figure is more than ``TOLERANCE`` above ``ops/perf/baseline.json``.

What makes the counts repeat to well under 1%:

- the same data every run: a fresh scratch database, migrated and seeded, per gate run;
- ``PYTHONHASHSEED`` fixed (set and dict iteration orders, hence the code paths, repeat);
- callgrind starts uninstrumented (``--instr-atstart=no``), so start-up and a fixed warm-up
  of every request kind run at near native speed and are not counted; instrumentation is
  switched on (``callgrind_control -i on``) just before the measured requests;
- one request at a time, the counter read (``callgrind_control -e``) around each once the
  server has gone idle, so each sample is exactly one request and what it set off;
- the median over the samples, which drops the odd one that a garbage collection of the
  older generations or a timer landed on;
- the server's own idle timers removed from the count: uvicorn wakes every 0.1 s to refresh
  its Date header (the server under callgrind is slow, so that would scale with the
  machine's load), so the gate serves through ``bench.gate_server``, which does not poll;
- no Redis: the server uses the in-process cache, so other clients of a shared Redis (its
  login throttles) cannot change what a request does.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from pd_prime_demo.bench.api import free_port
from pd_prime_demo.bench.callgrind import (
    HASH_SEED,
    Counter,
    conditions,
    measure_engine,
    valgrind_prefix,
)
from pd_prime_demo.bench.load import agent_quote

TOLERANCE = 0.05
BASELINE = Path("ops/perf/baseline.json")
FIGURES = ("quote", "bind", "read", "pay", "engine auto quote")
GATE_SERVER = "pd_prime_demo.bench.gate_server"
UPDATE_NOTE = (
    "Instructions per request (median, callgrind) measured by `pd-prime bench gate` on a fresh "
    "database. `make gate` (in .ci/run) fails when a figure is more than 5% above this file. "
    "After an intended change, run `pd-prime bench gate --update` and commit this file in the "
    "same commit as the change, saying why in its message. The counts depend on the Python "
    "and valgrind versions and the locked dependencies: regenerate after changing any of them."
)


@dataclass(frozen=True, slots=True)
class Measured:
    figures: dict[str, float]  # instructions per request (median), by figure name
    spread: dict[str, float]  # (max - min) / median of the samples, by figure name
    seconds: float


# --- the server ---------------------------------------------------------------------------

Send = Callable[[httpx.AsyncClient], Any]


async def _request(
    client: httpx.AsyncClient, method: str, url: str, body: Any, headers: dict[str, str]
) -> dict[str, Any]:
    response = await client.request(method, url, json=body, headers=headers)
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{method} {url}: {response.status_code} {response.text[:500]}")
    answer: dict[str, Any] = response.json()
    return answer


async def _ready(client: httpx.AsyncClient) -> None:
    for _ in range(3000):  # the app's imports under valgrind take a while even uninstrumented
        try:
            if (await client.get("/health/ready")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the gate's server did not become ready")


async def _drive_server(
    base_url: str, pid: int, samples: int, warmup: int
) -> dict[str, list[float]]:
    """Warm every request kind up uninstrumented, then count ``samples`` of each, one at a
    time: quotes, binding each of those quotes, reading each policy, paying on each."""
    counts: dict[str, list[float]] = {name: [] for name in FIGURES[:4]}
    async with httpx.AsyncClient(base_url=base_url, timeout=600) as client:
        await _ready(client)
        headers, body = await agent_quote(client)
        paid = iter(range(10**9))

        async def quote() -> str:
            return str((await _request(client, "POST", "/api/v1/quotes", body, headers))["id"])

        async def bind(quote_id: str) -> str:
            url = f"/api/v1/quotes/{quote_id}/bind"
            return str((await _request(client, "POST", url, {"option": "standard"}, headers))["id"])

        async def read(policy_id: str) -> None:
            await _request(client, "GET", f"/api/v1/policies/{policy_id}", None, headers)

        async def pay(policy_id: str) -> None:
            keyed = {**headers, "Idempotency-Key": f"gate-{next(paid)}"}
            url = f"/api/v1/policies/{policy_id}/payments"
            await _request(client, "POST", url, {"amount": "1.00"}, keyed)

        async def round_of(count: int, counter: Counter | None) -> None:
            def mark(name: str, before: int) -> int:
                if counter is None:
                    return 0
                after = counter.read()
                counts[name].append(float(after - before))
                return after

            position = counter.read() if counter else 0
            quotes = []
            for _ in range(count):
                quotes.append(await quote())
                position = mark("quote", position)
            policies = []
            for quote_id in quotes:
                policies.append(await bind(quote_id))
                position = mark("bind", position)
            for policy_id in policies:
                await read(policy_id)
                position = mark("read", position)
            for policy_id in policies:
                await pay(policy_id)
                position = mark("pay", position)

        await round_of(warmup, None)
        counter = Counter(pid)
        counter.instrument()
        await round_of(samples, counter)
    return counts


def measure_server(
    samples: int, warmup: int, echo: Callable[[str], object]
) -> dict[str, list[float]]:
    from pd_prime_demo import bootstrap
    from pd_prime_demo.core.database import create_database, drop_database

    base = bootstrap.settings(demo=True)
    assert base.database_url is not None
    scratch = asyncio.run(create_database(base.database_url, f"pd_prime_gate_{os.getpid()}"))
    settings = base.model_copy(update={"database_url": scratch, "redis_url": None})
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("REDIS_URL", "PD_PRIME_REDIS_URL")
    }
    env.update(
        DATABASE_URL=scratch,
        PYTHONHASHSEED=HASH_SEED,
        PD_PRIME_ENV="demo",
        PD_PRIME_LOG_LEVEL="WARNING",
        PD_PRIME_DATA_DIR=str(settings.data_dir),
        PD_PRIME_RATE_LIMITS_ENABLED="false",
    )
    try:
        started = time.perf_counter()
        bootstrap.migrate(settings)
        asyncio.run(bootstrap.seed(settings))
        echo(f"  scratch database migrated and seeded in {time.perf_counter() - started:.0f} s")
        port = free_port()
        argv = [*valgrind_prefix(), sys.executable, "-m", GATE_SERVER, str(port)]
        with _serving(argv, env) as pid:
            return asyncio.run(_drive_server(f"http://127.0.0.1:{port}", pid, samples, warmup))
    finally:
        asyncio.run(drop_database(base.database_url, scratch))


@contextmanager
def _serving(argv: list[str], env: dict[str, str]) -> Iterator[int]:
    server = subprocess.Popen(argv, env=env)  # noqa: S603 - our interpreter and module
    try:
        yield server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=300)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- the gate -----------------------------------------------------------------------------


def measure(samples: int, warmup: int, echo: Callable[[str], object]) -> Measured:
    started = time.perf_counter()
    raw = measure_server(samples, warmup, echo)
    echo(f"  server requests counted at {time.perf_counter() - started:.0f} s")
    raw["engine auto quote"] = measure_engine(samples)
    figures = {name: statistics.median(raw[name]) for name in FIGURES}
    spread = {
        name: (max(raw[name]) - min(raw[name])) / figures[name] if figures[name] else 0.0
        for name in FIGURES
    }
    return Measured(figures, spread, time.perf_counter() - started)


def compare(
    figures: dict[str, float], baseline: dict[str, float], tolerance: float = TOLERANCE
) -> tuple[list[str], list[str]]:
    """The table's lines, and the figures more than ``tolerance`` above their baseline (a
    figure missing from the baseline fails too: it has nothing to be held to)."""
    lines = [f"  {'figure':<20} {'instructions':>14} {'baseline':>14} {'ratio':>8}"]
    failed = []
    for name in FIGURES:
        value, base = figures[name], baseline.get(name)
        if base is None or base <= 0:
            lines.append(f"  {name:<20} {value:>14,.0f} {'(none)':>14} {'':>8}  FAIL")
            failed.append(name)
            continue
        ratio = value / base
        verdict = "FAIL" if ratio > 1 + tolerance else ("faster" if ratio < 1 - tolerance else "")
        lines.append(f"  {name:<20} {value:>14,.0f} {base:>14,.0f} {ratio:>8.3f}  {verdict}")
        if verdict == "FAIL":
            failed.append(name)
    return lines, failed


def run_gate(
    *,
    baseline_path: Path = BASELINE,
    update: bool = False,
    samples: int = 11,
    warmup: int = 4,
    echo: Callable[[str], object] = print,
) -> bool:
    """Measure, then compare with (or with ``update``, rewrite) the baseline; True if it
    passed."""
    here = conditions()
    echo(
        f"performance gate: callgrind, {samples} counted requests of each kind after {warmup} "
        f"uncounted ({here['valgrind']}, Python {here['python']})"
    )
    measured = measure(samples, warmup, echo)
    for name in FIGURES:
        echo(
            f"  {name:<20} {measured.figures[name]:>14,.0f} instructions "
            f"(samples spread {measured.spread[name]:.2%})"
        )
    echo(f"  measured in {measured.seconds:.0f} s")
    if update:
        record = {
            "note": UPDATE_NOTE,
            "tolerance": TOLERANCE,
            "conditions": {
                **here,
                "samples": samples,
                "warmup": warmup,
                "measured_on": datetime.now(UTC).date().isoformat(),
            },
            "figures": {name: round(measured.figures[name]) for name in FIGURES},
        }
        baseline_path.parent.mkdir(parents=True, exist_ok=True)
        baseline_path.write_text(json.dumps(record, indent=2) + "\n")
        echo(f"baseline written to {baseline_path}: commit it with the change and say why")
        return True
    if not baseline_path.exists():
        echo(f"no baseline at {baseline_path}: run pd-prime bench gate --update")
        return False
    stored = json.loads(baseline_path.read_text())
    differing = {
        key: (stored.get("conditions", {}).get(key), value)
        for key, value in here.items()
        if stored.get("conditions", {}).get(key) != value
    }
    for key, (then, now) in differing.items():
        echo(f"  note: the baseline was measured with {key} {then}, this run has {now}")
    lines, failed = compare(measured.figures, stored["figures"], stored.get("tolerance", TOLERANCE))
    for line in lines:
        echo(line)
    if failed:
        echo(
            f"performance gate FAILED: {', '.join(failed)} above the baseline by more than "
            f"{TOLERANCE:.0%}. If intended, run pd-prime bench gate --update and commit "
            f"{baseline_path} with the reason."
        )
        return False
    echo("performance gate passed")
    return True
