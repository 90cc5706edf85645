"""``pd-prime bench book`` at a tiny size, so the command cannot rot: it builds a book through
the import, runs a day of jobs after the conversion's catch-up, serves the read side and
prints every phase and target (the figures themselves are the benchmark's, not asserted)."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from pd_prime_demo import cli

runner = CliRunner()


def test_book_benchmark_builds_runs_a_day_and_reads(cli_env: str) -> None:
    result = runner.invoke(
        cli.app,
        ["bench", "book", "--policies", "40", "--days", "1", "--samples", "10"],
        catch_exceptions=False,
    )
    out = result.output
    assert result.exit_code == 0, out[-3000:]
    loaded = re.search(r"loaded ([\d,]+) \(", out)
    assert loaded is not None, out[-3000:]
    assert int(loaded.group(1).replace(",", "")) >= 38  # a legacy book may have a refusal
    for phase in ("day 0 (catch-up)", "day 1", "premium report, year", "requests"):
        assert phase in out
    # The read side answered: reports and the trial balance as JSON, every request 200.
    assert out.count("HTTP 200") >= 3, out[-3000:]
    assert " 0 not 200" in out
    assert "ledger balanced" in out
    assert "audit chain intact" in out
    assert "a day's earning < 60 s" in out
    assert "PASS" in out or "FAIL" in out
