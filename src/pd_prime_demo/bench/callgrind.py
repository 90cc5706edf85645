"""Counting a process's instructions with valgrind's callgrind, for ``bench gate``.

A process is started uninstrumented (``--instr-atstart=no``: start-up and warm-up run at near
native speed and are not counted), instrumentation is switched on with ``callgrind_control -i
on``, and ``callgrind_control -e`` reads the count between units of work, once the process has
gone idle. Reading the count executes nothing in the process: consecutive readings of an idle
process agree. Also here: the engine's probe, a child process rating the reference auto quote
in batches on command.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pd_prime_demo.bench.api import SetupError
from pd_prime_demo.bench.load import callgrind_total

HASH_SEED = "0"  # set and dict orders, hence the code paths taken, repeat from run to run


def conditions() -> dict[str, str]:
    """What the counts depend on besides the code: recorded beside the baseline."""
    valgrind = subprocess.run(  # noqa: S603 - valgrind's own version
        [_tool("valgrind"), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "valgrind": valgrind,
        "pythonhashseed": HASH_SEED,
    }


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise SetupError(f"the gate needs {name} (Debian's package valgrind)")
    return found


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wait_idle(pid: int, *, window: float = 0.05, timeout: float = 120) -> None:
    """Until the process used no CPU for ``window`` seconds (a request's tail, such as the
    work after its response was sent, belongs to its own sample)."""
    deadline = time.monotonic() + timeout
    last = _cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(window)
        now = _cpu_ticks(pid)
        if now == last:
            return
        last = now
    raise RuntimeError(f"process {pid} did not go idle")


class Counter:
    """The instructions a process under callgrind has executed, read between requests."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def instrument(self) -> None:
        subprocess.run(  # noqa: S603 - valgrind's own tool, our own child
            [_tool("callgrind_control"), "-i", "on", str(self.pid)],
            capture_output=True,
            check=True,
            timeout=300,
        )

    def read(self) -> int:
        wait_idle(self.pid)
        report = subprocess.run(  # noqa: S603 - valgrind's own tool, our own child
            [_tool("callgrind_control"), "-e", "-b", str(self.pid)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        ).stdout
        count = callgrind_total(report)
        if count is not None:
            return count
        if "Totals:" in report:  # instrumented, but nothing has run since
            return 0
        raise RuntimeError(f"callgrind_control could not read process {self.pid}: {report}")


def valgrind_prefix() -> list[str]:
    return [
        _tool("valgrind"),
        "-q",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        "--instr-atstart=no",
    ]


# --- the engine alone ---------------------------------------------------------------------

ENGINE_BATCH = 40  # quotes rated per sample


def engine_child() -> None:
    """Run under callgrind by the gate: rate the reference auto quote ``ENGINE_BATCH`` times
    for every line read on stdin, answering each with a line on stdout."""
    from pd_prime_demo.bench.rating import reference_auto_quote
    from pd_prime_demo.products.shipped import shipped
    from pd_prime_demo.rating.engine import compile_product

    product = compile_product(shipped("personal_auto", "TX"))
    quote = reference_auto_quote(product)
    for _ in range(ENGINE_BATCH * 5):  # warm-up: the interpreter's specialisation settles
        product.rate(quote, explain=False)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "rate":
            break
        for _ in range(ENGINE_BATCH):
            product.rate(quote, explain=False)
        print("done", flush=True)


def measure_engine(samples: int) -> list[float]:
    """Instructions per engine quote, one figure per batch."""
    argv = [
        *valgrind_prefix(),
        sys.executable,
        "-c",
        "from pd_prime_demo.bench.callgrind import engine_child; engine_child()",
    ]
    env = {**os.environ, "PYTHONHASHSEED": HASH_SEED}
    child = subprocess.Popen(  # noqa: S603 - our interpreter and module
        argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the engine probe did not start")
        counter = Counter(child.pid)
        counter.instrument()
        per_quote = []
        before = counter.read()
        for _ in range(samples):
            child.stdin.write("rate\n")
            child.stdin.flush()
            if child.stdout.readline().strip() != "done":
                raise RuntimeError("the engine probe stopped")
            after = counter.read()
            per_quote.append((after - before) / ENGINE_BATCH)
            before = after
        return per_quote
    finally:
        child.stdin.close()
        child.wait(timeout=300)
