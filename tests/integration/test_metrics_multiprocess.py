"""``pd-prime serve --workers 2`` for real: one scrape counts the requests every worker served,
whichever process answers it (a worker's /metrics, the parent's metrics listen address), and a
killed worker's live gauges leave the answer while its counters stay."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from typer.testing import CliRunner

from pd_prime_demo import cli
from pd_prime_demo.core.config import get_settings
from tests.api.test_metrics import samples, value
from tests.integration.test_cli import _spawned_children

TOKEN = "multi-t0k3n"
HEALTH = {"method": "GET", "route": "/health", "status": "200"}


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(condition: object, what: str, tries: int = 150) -> None:
    for _ in range(tries):
        try:
            if callable(condition) and condition():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"gave up waiting: {what}")


def _livesum_pids(directory: Path) -> set[int]:
    return {int(p.stem.rpartition("_")[2]) for p in directory.glob("gauge_livesum_*.db")}


def _served_by(directory: Path, pid: int) -> float:
    """The /health requests one worker counted: its own file, merged alone."""
    alone = directory.parent / f"alone-{pid}"
    shutil.rmtree(alone, ignore_errors=True)
    alone.mkdir()
    source = directory / f"counter_{pid}.db"
    if source.exists():
        shutil.copy(source, alone / source.name)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(alone))  # type: ignore[no-untyped-call]
    found = registry.get_sample_value("pd_prime_http_requests_total", HEALTH)
    return found or 0.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts processes in /proc")
def test_workers_are_counted_in_one_scrape_and_a_dead_worker_drops_out(
    cli_env: str, tmp_path: Path
) -> None:
    assert CliRunner().invoke(cli.app, ["migrate"]).exit_code == 0
    api, metrics = _port(), _port()
    env = {
        **os.environ,
        "PD_PRIME_PORT": str(api),
        "PD_PRIME_HOST": "127.0.0.1",
        "PD_PRIME_METRICS_LISTEN": f"127.0.0.1:{metrics}",
        "PD_PRIME_METRICS_TOKEN": TOKEN,
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    directory = tmp_path / "prometheus"
    stale = directory / "counter_999999999.db"  # a previous run's file: emptied at start
    directory.mkdir()
    stale.write_bytes(b"")
    server = subprocess.Popen(
        [sys.executable, "-m", "pd_prime_demo.cli", "serve", "--workers", "2"], env=env
    )
    base, scrape_url = f"http://127.0.0.1:{api}", f"http://127.0.0.1:{metrics}/metrics"
    try:
        _wait_until(lambda: httpx.get(f"{base}/health/ready").status_code == 200, "ready")
        workers = _spawned_children(server.pid)
        assert len(workers) == 2
        assert not stale.exists()
        ceiling = get_settings().db_pool_size + get_settings().db_max_overflow
        _wait_until(lambda: _livesum_pids(directory) >= set(workers), "both pools open")

        # New connections each time: the kernel hands them to either worker, until both
        # have served some (else a worker's own count would equal the total by chance).
        sent = 0
        for _ in range(50):
            for _ in range(10):
                assert httpx.get(f"{base}/health").status_code == 200
            sent += 10
            shares = [_served_by(directory, pid) for pid in workers]
            if all(shares):
                break
        assert all(shares), shares
        assert sum(shares) == sent
        from_parent = samples(httpx.get(scrape_url, timeout=10).text)
        from_a_worker = samples(
            httpx.get(
                f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
            ).text
        )
        for found in (from_parent, from_a_worker):
            assert value(found, "pd_prime_http_requests_total", **HEALTH) == sent
            assert value(found, "pd_prime_db_pool_connections_max") == 2 * ceiling
            assert value(found, "pd_prime_database_up") == 1  # once, not summed over workers

        victim = workers[0]
        os.kill(victim, signal.SIGKILL)

        def victim_forgotten() -> bool:
            answer = samples(httpx.get(scrape_url, timeout=10).text)
            return victim not in _livesum_pids(directory) and value(
                answer, "pd_prime_db_pool_connections_max"
            ) == ceiling * len(_livesum_pids(directory))

        _wait_until(victim_forgotten, "the killed worker's gauges leave the scrape")
        after = samples(httpx.get(scrape_url, timeout=10).text)
        # Its requests were served: the counter never goes down.
        assert value(after, "pd_prime_http_requests_total", **HEALTH) == sent
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_worker_serves_its_metrics_on_its_own_address(cli_env: str) -> None:
    assert CliRunner().invoke(cli.app, ["migrate"]).exit_code == 0
    port = _port()
    env = {**os.environ, "PD_PRIME_WORKER_METRICS_LISTEN": f"127.0.0.1:{port}"}
    worker = subprocess.Popen([sys.executable, "-m", "pd_prime_demo.cli", "worker"], env=env)
    scraped: list[str] = []

    def answered() -> bool:
        scraped.append(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text)
        return True

    try:
        _wait_until(answered, "the worker's metrics address")
        found = samples(scraped[-1])
        assert value(found, "pd_prime_database_up") == 1
        assert value(found, "pd_prime_outbox_unpublished") is not None
        assert "# HELP pd_prime_job_runs_total " in scraped[-1]
    finally:
        worker.terminate()
        worker.wait(timeout=30)
