"""The performance gate's verdict: a figure more than 5% above its baseline fails, and so does
a figure the baseline lacks; a faster one passes (and says so)."""

from __future__ import annotations

from pd_prime_demo.bench.gate import FIGURES, compare

BASE = dict.fromkeys(FIGURES, 1000000.0)


def test_a_figure_more_than_five_percent_above_its_baseline_fails() -> None:
    lines, failed = compare({**BASE, "bind": 1_050_001.0}, BASE)
    assert failed == ["bind"]
    assert any(line.split()[0] == "bind" and line.endswith("FAIL") for line in lines)


def test_five_percent_or_less_above_and_any_amount_below_pass() -> None:
    _, failed = compare({**BASE, "quote": 1_050_000.0, "read": 400_000.0}, BASE)
    assert failed == []


def test_a_figure_missing_from_the_baseline_fails() -> None:
    _, failed = compare(BASE, {k: v for k, v in BASE.items() if k != "pay"})
    assert failed == ["pay"]
