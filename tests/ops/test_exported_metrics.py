"""Every metric a dashboard panel, an alert or a recording rule reads is one the running app
exports: a renamed metric would otherwise leave an empty panel and an alert that can never
fire, both silently."""

from __future__ import annotations

from httpx import ASGITransport, AsyncClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.ops.support import dashboards, metric_names, panel_expressions, rules

# Series Prometheus itself makes for every target, not the app.
PROMETHEUS_SERIES = {"up"}

# The samples a family of each type puts in the exposition format.
_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "gauge": ("",),
    "info": ("_info",),
}


async def _exported(runtime: Runtime) -> set[str]:
    runtime.settings = runtime.settings.model_copy(update={"metrics_token": SecretStr("scrape")})
    transport = ASGITransport(app=create_app(runtime=runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/metrics", headers={"Authorization": "Bearer scrape"})
    assert response.status_code == 200, response.text
    names: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names


async def test_every_metric_the_dashboards_and_rules_use_is_exported(runtime: Runtime) -> None:
    exported = await _exported(runtime)
    assert "pd_prime_http_requests_total" in exported  # the scrape really is the catalogue
    all_rules = list(rules())
    recorded = {rule["record"] for rule in all_rules if "record" in rule}
    defined = exported | recorded | PROMETHEUS_SERIES

    used: dict[str, set[str]] = {}
    for rule in all_rules:
        where = f"rule {rule.get('alert') or rule.get('record')}"
        for name in metric_names(rule["expr"]):
            used.setdefault(name, set()).add(where)
    for board_name, board in dashboards().items():
        for title, expr in panel_expressions(board):
            for name in metric_names(expr):
                used.setdefault(name, set()).add(f"{board_name}: {title}")

    unknown = {name: sorted(places) for name, places in used.items() if name not in defined}
    assert unknown == {}, "metrics used but not exported by the app"
    # Everything the dashboards and alerts were written against is in use somewhere, so the
    # check above covers them all rather than a handful.
    assert len(used) >= 40
