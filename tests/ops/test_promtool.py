"""The alert and recording rules pass `promtool check rules` and their unit tests
(ops/prometheus/tests/*.yml: every alert fires on its synthetic failure and stays quiet on a
healthy service), and the scrape configuration is valid."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.ops.support import OPS, PROMTOOL_TESTS, RULES

PROMTOOL = shutil.which("promtool")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not found: apt-get install prometheus"
)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    # The arguments are this repository's own file paths.
    return subprocess.run(  # noqa: S603
        [PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_rule_files_are_valid() -> None:
    result = _promtool("check", "rules", *map(str, sorted(RULES.glob("*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_fires_and_stays_quiet_as_its_unit_tests_say() -> None:
    tests = sorted(PROMTOOL_TESTS.glob("*.yml"))
    assert tests
    result = _promtool("test", "rules", *map(str, tests))
    assert result.returncode == 0, result.stdout + result.stderr


def test_scrape_config_is_valid() -> None:
    # --syntax-only: the bearer-token file is a deployment's secret, absent here.
    result = _promtool("check", "config", "--syntax-only", str(OPS / "prometheus/prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
