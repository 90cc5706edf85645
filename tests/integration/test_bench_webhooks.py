"""``pd-prime bench webhooks`` on tiny sizes: every delivery reaches the receiver, signed. Its
figures are for reading, not asserting (no timing is checked here)."""

from __future__ import annotations


def test_webhooks_benchmark_delivers_every_event_to_every_subscription(cli_env: str) -> None:
    from pd_prime_demo.bench.webhooks import run_webhooks_benchmark

    lines: list[str] = []
    figures = run_webhooks_benchmark(events=3, subscriptions=2, echo=lines.append)

    # Both timed runs, the warm-up and the latency run, each event to both subscriptions.
    assert figures["expected"] >= 2 * 3 * 2
    assert figures["delivered"] == figures["expected"]
    assert figures["verified"] > 0
    for name in ("1 worker", "2 workers", "latency p50 ms", "latency p99 ms"):
        assert figures[name] > 0, name
    assert any(line.strip().startswith("2 workers / 1 worker throughput:") for line in lines)
    assert any("0 forged" in line for line in lines)
