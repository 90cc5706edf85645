"""The load generator's own arithmetic: server CPU from /proc, medians of alternating rounds."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from pd_prime_demo.bench.api import SetupError, server_command
from pd_prime_demo.bench.load import (
    Comparison,
    Run,
    ServerCpu,
    ServerInstructions,
    _median,
    callgrind_total,
    describe,
    describe_ratio,
)


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


REPORT = """PID 26554: /work/main/.venv/bin/python -m uvicorn

  Totals:        Ir
   Th 1  85,507,226
   Th 2      1,000

  Frame:    Ir Backtrace for Thread 1
   [ 0]     51 poll (8 x)
"""


def test_instructions_are_read_from_every_thread_of_the_callgrind_report() -> None:
    assert callgrind_total(REPORT) == 85_508_226
    off = "PID 1: python\n  No information available as instrumentation is switched off.\n"
    assert callgrind_total(off) is None


def test_instruction_ratio_and_its_line() -> None:
    real = Run(10.0, 0, 80.0, 9_500_000.0)
    echo = Run(60.0, 0, 15.0, 1_900_000.0)
    compared = Comparison(real, echo)
    assert compared.instruction_ratio == pytest.approx(0.2)
    assert "9.50 M instructions/req" in describe("quote", real)
    line = describe_ratio("quote / echo", compared)
    assert "quote / echo: 17%;" in line
    assert "in server instructions per request: 20%" in line
    untimed = Comparison(Run(1.0, 0, None), Run(2.0, 0, None))
    assert untimed.instruction_ratio is None
    assert "instructions" not in describe_ratio("x", untimed)


def test_the_server_runs_under_callgrind_only_when_asked_and_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = server_command(8123, workers=2, callgrind=False)
    assert plain.argv[0] == sys.executable
    assert plain.argv[plain.argv.index("--port") + 1] == "8123"
    with pytest.raises(SetupError, match="one worker"):
        server_command(8123, workers=2, callgrind=True)
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    counted = server_command(8123, workers=1, callgrind=True)
    assert counted.argv[:3] == ["/usr/bin/valgrind", "-q", "--tool=callgrind"]
    assert counted.argv[counted.argv.index("--workers") + 1] == "1"
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SetupError, match="needs valgrind"):
        server_command(8123, workers=1, callgrind=True)


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_a_process_under_callgrind_reports_a_growing_instruction_count() -> None:
    valgrind = ["valgrind", "-q", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    busy = [sys.executable, "-c", "while True: sum(range(1000))"]
    process = subprocess.Popen([*valgrind, *busy])  # noqa: S603 - valgrind, this interpreter
    try:
        meter = ServerInstructions(process.pid)
        first = None
        for _ in range(100):  # valgrind needs a moment to start the program
            if (first := meter.count()) is not None:
                break
            time.sleep(0.2)
        assert first is not None
        time.sleep(0.5)
        second = meter.count()
        assert second is not None
        assert second > first
        assert ServerInstructions(2**22 + 12345).count() is None  # not running under callgrind
    finally:
        process.kill()
        process.wait()
