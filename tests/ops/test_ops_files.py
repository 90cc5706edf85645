"""The files under ops/ are consistent: generated ones up to date, dashboards well formed,
every alert complete with a runbook section that exists, and every alert unit-tested."""

from __future__ import annotations

import re

import yaml

from tests.ops.support import (
    DASHBOARDS,
    OPERATIONS_DOC,
    PROMTOOL_TESTS,
    RULES,
    dashboards,
    load_ops_module,
    metric_names,
    parse,
    rules,
)


def test_generated_files_are_up_to_date() -> None:
    slo = load_ops_module("slo")
    assert (RULES / "pd-prime-recording.yml").read_text(encoding="utf-8") == (
        slo.recording_rules()
    ), "run `python ops/slo.py`"
    generator = load_ops_module("dashboards")
    for name in generator.DASHBOARDS:
        assert (DASHBOARDS / f"{name}.json").read_text(encoding="utf-8") == (
            generator.render(name)
        ), "run `python ops/dashboards.py`"


def test_dashboards_are_well_formed() -> None:
    boards = dashboards()
    assert set(boards) == {"operations", "business", "security"}
    for name, board in boards.items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource"
        assert variables["datasource"]["query"] == "prometheus"
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            where = f"{name}: {panel['title']!r}"
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
            assert panel["targets"], f"{where} has no query"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", where
                parse(target["expr"])  # raises on invalid PromQL


def test_the_money_panels_say_they_are_not_the_books() -> None:
    money = {
        panel["title"]: panel["description"]
        for panel in dashboards()["business"]["panels"]
        for target in panel.get("targets", [])
        if any(
            name.endswith(("_amount_total", "_premium_total"))
            for name in metric_names(target["expr"])
        )
    }
    assert len(money) >= 4, money
    for title, description in money.items():
        assert description.startswith("Approximate"), title
        assert "/api/v1/reports/premium" in description, title
        assert "ledger" in description, title


def test_every_alert_is_complete_and_its_runbook_section_exists() -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", heading.lower()).replace(" ", "-")
        for heading in re.findall(
            r"^#+ (.+)$", OPERATIONS_DOC.read_text(encoding="utf-8"), re.MULTILINE
        )
    }
    alerts = [rule for rule in rules() if "alert" in rule]
    assert len(alerts) >= 10
    for alert in alerts:
        name = alert["alert"]
        assert alert["labels"]["severity"] in {"page", "ticket"}, name
        annotations = alert["annotations"]
        assert annotations["summary"], name
        assert annotations["description"], name
        document, _, anchor = annotations["runbook_url"].partition("#")
        assert document == "docs/operations.md", name
        assert anchor in anchors, f"{name}: no section #{anchor} in docs/operations.md"


def test_every_alert_has_a_promtool_unit_test() -> None:
    tested = {
        case["alertname"]
        for path in PROMTOOL_TESTS.glob("*.yml")
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    alerts = {rule["alert"] for rule in rules() if "alert" in rule}
    assert alerts - tested == set(), "alerts no promtool test sees firing"
