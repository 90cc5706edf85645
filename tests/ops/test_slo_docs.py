"""The SLO table of docs/operations.md says what the recording rules measure: the same
requests, objectives, latency bounds and error budgets (an operator reads the table; the
pager reads the rules)."""

from __future__ import annotations

import re
from decimal import Decimal

from httpx import AsyncClient

from tests.ops.support import OPERATIONS_DOC, rules, selectors

MINUTES_IN_30_DAYS = Decimal(30 * 24 * 60)

_ROW = re.compile(
    r"^\| `(?P<slo>\w+)` \| `(?P<method>[A-Z]+) (?P<route>\S+)` "
    r"\| (?P<availability>[\d.]+)% \| (?P<latency>[\d.]+)% within (?P<bound>[\d.]+) s "
    r"\| 1 in (?P<a_one_in>[\d,]+) requests; (?P<a_minutes>[\d.]+) min "
    r"\| 1 in (?P<l_one_in>[\d,]+) requests; (?P<l_minutes>[\d.]+) min \|$",
    re.MULTILINE,
)


def _documented() -> dict[str, dict[str, str]]:
    text = OPERATIONS_DOC.read_text(encoding="utf-8")
    section = text.split("## Service level objectives", 1)[1].split("\n## ", 1)[0]
    return {m["slo"]: m.groupdict() for m in _ROW.finditer(section)}


def _measured() -> dict[tuple[str, str], dict[str, str]]:
    """(slo, sli) -> the budget and the matchers of its 5m ratio, from the rule files."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for rule in rules():
        labels = rule.get("labels", {})
        key = (labels.get("slo"), labels.get("sli"))
        if rule.get("record") == "pd_prime_slo:error_budget:ratio":
            value = re.fullmatch(r"vector\(([\d.e-]+)\)", rule["expr"])
            assert value, rule
            found.setdefault(key, {})["budget"] = value[1]
        elif rule.get("record") == "pd_prime_slo:errors:ratio_rate5m":
            for selector in selectors(rule["expr"]):
                matchers = {m.name: m.value for m in selector.matchers.matchers}
                found.setdefault(key, {}).update(
                    {k: v for k, v in matchers.items() if k in {"method", "route", "le"}}
                )
    return found


def test_the_slo_table_matches_the_rules() -> None:
    documented = _documented()
    measured = _measured()
    assert (
        set(documented)
        == {slo for slo, _ in measured}
        == {
            "quote",
            "bind",
            "read_policy",
            "pay",
        }
    )
    for slo, row in documented.items():
        availability = measured[(slo, "availability")]
        latency = measured[(slo, "latency")]
        for sli in (availability, latency):
            assert (sli["method"], sli["route"]) == (row["method"], row["route"]), slo
        assert Decimal(latency["le"]) == Decimal(row["bound"]), slo

        for objective, budget, one_in, minutes in (
            (row["availability"], availability["budget"], row["a_one_in"], row["a_minutes"]),
            (row["latency"], latency["budget"], row["l_one_in"], row["l_minutes"]),
        ):
            allowed = 1 - Decimal(objective) / 100
            assert allowed == Decimal(budget), f"{slo}: the rules' budget is {budget}"
            assert Decimal(one_in.replace(",", "")) == 1 / allowed, slo
            assert Decimal(minutes) == allowed * MINUTES_IN_30_DAYS, slo


async def test_the_documented_routes_exist(client: AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    routes = {(method.upper(), path) for path, item in paths.items() for method in item}
    for slo, row in _documented().items():
        assert (row["method"], row["route"]) in routes, f"{slo}: no such route"
