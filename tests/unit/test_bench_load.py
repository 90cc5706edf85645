"""The load generator's own arithmetic: server CPU from /proc, medians of alternating rounds."""

from __future__ import annotations

import os
import sys

import pytest

from pd_prime_demo.bench_load import Comparison, Run, ServerCpu, _median, describe


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_server_cpu_counts_the_process_tree() -> None:
    cpu = ServerCpu(os.getpid())
    before = cpu.seconds()
    assert before is not None
    sum(i * i for i in range(3_000_000))  # burn some CPU in this process
    after = cpu.seconds()
    assert after is not None
    assert after > before
    assert ServerCpu(2**22 + 12345).seconds() is None  # no such process


def test_medians_and_ratio() -> None:
    runs = [Run(100.0, 0, 2.0), Run(300.0, 1, None), Run(200.0, 2, 4.0)]
    median = _median(runs)
    assert median == Run(200.0, 3, 3.0)
    assert Comparison(median, Run(400.0, 0, 1.0)).ratio == 0.5
    assert Comparison(median, Run(0.0, 5, None)).ratio == 0.0
    assert "3.00 ms server CPU/req" in describe("x", median)
    assert "server CPU" not in describe("x", Run(1.0, 0, None))
