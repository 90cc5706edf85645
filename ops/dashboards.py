"""The Grafana dashboards of PD Prime, as code: ``python ops/dashboards.py`` writes
``ops/grafana/dashboards/{operations,business,security}.json`` (``tests/ops`` fails when they
are stale, or when a panel queries a metric the app does not export).

Written for Grafana 12 (schemaVersion 41; older 11.x migrate it on load). Every panel reads
the ``${datasource}`` variable, so one dashboard serves any Prometheus. Gauges read from the
database at scrape time (queue, dead letters, integrity, subscriptions) are the same on every
instance: panels take ``max`` of them, never ``sum``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).parent / "grafana" / "dashboards"
SCHEMA_VERSION = 41
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
RATE = "$__rate_interval"
NOT_PROBES = 'route!~"/health.*|/metrics"'  # as in ops/slo.py's service error ratio

Panel = dict[str, Any]


def _targets(queries: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": chr(65 + i)}
        for i, (expr, legend) in enumerate(queries)
    ]


def timeseries(
    title: str, queries: list[tuple[str, str]], unit: str = "short", *, description: str = ""
) -> Panel:
    return {
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets(queries),
        "fieldConfig": {
            "defaults": {"unit": unit, "custom": {"fillOpacity": 10, "showPoints": "never"}},
            "overrides": [],
        },
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
    }


def stat(
    title: str,
    queries: list[tuple[str, str]],
    unit: str = "short",
    *,
    description: str = "",
    thresholds: list[tuple[float | None, str]] | None = None,
    mappings: dict[str, str] | None = None,
) -> Panel:
    steps = [{"value": v, "color": c} for v, c in (thresholds or [(None, "green")])]
    defaults: dict[str, Any] = {
        "unit": unit,
        "thresholds": {"mode": "absolute", "steps": steps},
    }
    if mappings:
        defaults["mappings"] = [
            {"type": "value", "options": {v: {"text": t} for v, t in mappings.items()}}
        ]
    return {
        "type": "stat",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": _targets(queries),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background",
            "textMode": "value_and_name",
        },
    }


def row(title: str) -> Panel:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def dashboard(uid: str, title: str, rows: list[tuple[str, list[Panel]]]) -> dict[str, Any]:
    """Rows of panels laid out left to right, each row's panels sharing its width."""
    panels: list[Panel] = []
    y = 0
    for row_title, row_panels in rows:
        panels.append({**row(row_title), "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}})
        y += 1
        width = 24 // min(len(row_panels), 4)
        for index, panel in enumerate(row_panels):
            x = (index % 4) * width
            if index and index % 4 == 0:
                y += 8
            panels.append({**panel, "gridPos": {"h": 8, "w": width, "x": x, "y": y}})
        y += 8
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return {
        "uid": uid,
        "title": title,
        "tags": ["pd-prime"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "timezone": "utc",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                    "regex": "",
                    "options": [],
                }
            ]
        },
        "annotations": {"list": []},
        "links": [
            {
                "title": "PD Prime dashboards",
                "type": "dashboards",
                "tags": ["pd-prime"],
                "asDropdown": True,
            }
        ],
        "panels": panels,
    }


def _quantiles(metric: str, by: str) -> list[tuple[str, str]]:
    return [
        (
            f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket[{RATE}])))",
            f"{{{{{by}}}}} p{int(q * 100)}",
        )
        for q in (0.5, 0.95, 0.99)
    ]


HTTP = "pd_prime_http_requests_total"
BURN = "pd_prime_slo:errors:ratio_rate{w} / on (slo, sli) pd_prime_slo:error_budget:ratio"


def operations() -> dict[str, Any]:
    return dashboard(
        "pd-prime-operations",
        "PD Prime / Operations",
        [
            (
                "Requests",
                [
                    timeseries(
                        "Request rate by route",
                        [(f"sum by (route) (rate({HTTP}[{RATE}]))", "{{route}}")],
                        "reqps",
                    ),
                    timeseries(
                        "Server error ratio (5xx)",
                        [
                            (
                                # The ratio PdPrimeHighErrorRate reads: probes left out.
                                f'sum(rate({HTTP}{{{NOT_PROBES},status=~"5.."}}[{RATE}])) / '
                                f"sum(rate({HTTP}{{{NOT_PROBES}}}[{RATE}]))",
                                "5xx",
                            )
                        ],
                        "percentunit",
                    ),
                    timeseries(
                        "Latency p50 / p95 / p99 by route",
                        _quantiles("pd_prime_http_request_duration_seconds", "route"),
                        "s",
                    ),
                    timeseries(
                        "Requests in flight",
                        [("sum(pd_prime_http_requests_in_flight)", "in flight")],
                    ),
                ],
            ),
            (
                "SLOs (docs/operations.md#service-level-objectives)",
                [
                    timeseries(
                        "Error budget burn rate, 1h (page at 14.4)",
                        [(BURN.format(w="1h"), "{{slo}} {{sli}}")],
                        description="1 = the budget lasts exactly 30 days.",
                    ),
                    timeseries(
                        "Error budget burn rate, 6h (page at 6)",
                        [(BURN.format(w="6h"), "{{slo}} {{sli}}")],
                    ),
                    timeseries(
                        "Error budget burn rate, 3d (ticket at 1)",
                        [(BURN.format(w="3d"), "{{slo}} {{sli}}")],
                    ),
                    stat(
                        "Bad requests, last 3 days",
                        [("pd_prime_slo:errors:ratio_rate3d", "{{slo}} {{sli}}")],
                        "percentunit",
                    ),
                ],
            ),
            (
                "Database",
                [
                    stat(
                        "Database reachable",
                        [("min(pd_prime_database_up)", "database")],
                        thresholds=[(None, "red"), (1, "green")],
                        mappings={"0": "DOWN", "1": "UP"},
                    ),
                    timeseries(
                        "Pool connections in use",
                        [
                            ("sum(pd_prime_db_pool_connections_in_use)", "in use"),
                            ("sum(pd_prime_db_pool_connections_max)", "max"),
                        ],
                    ),
                    timeseries(
                        "Pool wait p99 and timeouts",
                        [
                            (
                                "histogram_quantile(0.99, sum by (le) "
                                f"(rate(pd_prime_db_pool_wait_seconds_bucket[{RATE}])))",
                                "wait p99 (s)",
                            ),
                            (
                                f"sum(rate(pd_prime_db_pool_timeouts_total[{RATE}]))",
                                "timeouts/s",
                            ),
                        ],
                    ),
                    stat(
                        "Scrape targets up",
                        [('up{job=~"pd-prime-api|pd-prime-worker"}', "{{job}} {{instance}}")],
                        thresholds=[(None, "red"), (1, "green")],
                        mappings={"0": "DOWN", "1": "UP"},
                    ),
                ],
            ),
            (
                "Jobs and events",
                [
                    timeseries(
                        "Queue depth",
                        [
                            (
                                'max by (queue, status) (pd_prime_jobs{status=~"todo|doing"})',
                                "{{queue}} {{status}}",
                            )
                        ],
                    ),
                    timeseries(
                        "Oldest due job's wait",
                        [("max(pd_prime_jobs_oldest_due_age_seconds)", "oldest due")],
                        "s",
                    ),
                    timeseries(
                        "Dead letters",
                        [('max by (queue) (pd_prime_jobs{status="failed"})', "{{queue}}")],
                    ),
                    timeseries(
                        "Job failures and retries by task",
                        [
                            (
                                "sum by (task, outcome) (rate(pd_prime_job_runs_total"
                                f'{{outcome=~"failed|retried"}}[{RATE}]))',
                                "{{task}} {{outcome}}",
                            )
                        ],
                        "ops",
                    ),
                    timeseries(
                        "Job duration p95 by task",
                        [
                            (
                                "histogram_quantile(0.95, sum by (le, task) "
                                f"(rate(pd_prime_job_duration_seconds_bucket[{RATE}])))",
                                "{{task}}",
                            )
                        ],
                        "s",
                    ),
                    timeseries(
                        "Outbox backlog (unpublished events)",
                        [("max(pd_prime_outbox_unpublished)", "unpublished")],
                    ),
                ],
            ),
            (
                "Webhooks and live updates",
                [
                    timeseries(
                        "Webhook deliveries by outcome",
                        [
                            (
                                "sum by (outcome) "
                                f"(rate(pd_prime_webhook_deliveries_total[{RATE}]))",
                                "{{outcome}}",
                            )
                        ],
                        "ops",
                    ),
                    timeseries(
                        "Webhook delivery latency p95 by outcome",
                        [
                            (
                                "histogram_quantile(0.95, sum by (le, outcome) "
                                f"(rate(pd_prime_webhook_delivery_duration_seconds_bucket[{RATE}])))",
                                "{{outcome}}",
                            )
                        ],
                        "s",
                    ),
                    stat(
                        "Webhook subscriptions",
                        [("max by (state) (pd_prime_webhook_subscriptions)", "{{state}}")],
                    ),
                    timeseries(
                        "WebSocket connections",
                        [("sum(pd_prime_websocket_connections)", "open")],
                    ),
                ],
            ),
            (
                "Integrity and keys",
                [
                    stat(
                        "Integrity checks",
                        [("min by (check) (pd_prime_integrity_check_ok)", "{{check}}")],
                        thresholds=[(None, "red"), (1, "green")],
                        mappings={"0": "FAILED", "1": "OK"},
                    ),
                    stat(
                        "Since the last integrity check",
                        [
                            (
                                "time() - max by (check) "
                                "(pd_prime_integrity_check_timestamp_seconds)",
                                "{{check}}",
                            )
                        ],
                        "s",
                        thresholds=[(None, "green"), (3 * 3600, "red")],
                    ),
                    stat(
                        "Until a key retires or expires",
                        [
                            (
                                "min by (purpose, kid) "
                                "(pd_prime_key_expiry_timestamp_seconds) - time()",
                                "{{purpose}} {{kid}}",
                            )
                        ],
                        "s",
                        thresholds=[(None, "red"), (2 * 86400, "orange"), (14 * 86400, "green")],
                    ),
                    stat(
                        "Running version",
                        [
                            (
                                "count by (version, migration_head) (pd_prime_build_info)",
                                "{{version}} (migration {{migration_head}})",
                            )
                        ],
                        description="Instances per version: more than one during a rollout.",
                    ),
                ],
            ),
        ],
    )


def _business_counts(range_: str) -> list[Panel]:
    counts = [
        ("Quotes created", "pd_prime_quotes_created_total"),
        ("Quotes referred", "pd_prime_quotes_referred_total"),
        ("Quotes declined", "pd_prime_quotes_declined_total"),
        ("Policies bound", "pd_prime_policies_bound_total"),
    ]
    return [
        stat(title, [(f"sum(increase({metric}[{range_}]))", title)]) for title, metric in counts
    ]


# Counters restart at 0 with each process and increase() extrapolates to the range's edges and
# misses the first increment of each label set after a restart: the amounts are a trend, not
# the books.
APPROXIMATE = (
    "Approximate: from metrics, extrapolated over the time range, and missing the first "
    "amount of each label set after a process restarts. The books are the premium report "
    "(GET /api/v1/reports/premium) and the ledger."
)


def business() -> dict[str, Any]:
    per_hour = "sum by (product) (rate({m}[$__rate_interval])) * 3600"
    return dashboard(
        "pd-prime-business",
        "PD Prime / Business",
        [
            ("Quotes (over the dashboard's time range)", _business_counts("$__range")),
            (
                "Quote funnel",
                [
                    timeseries(
                        "Quotes per hour by outcome",
                        [
                            (
                                f"sum(rate(pd_prime_quotes_{m}_total[{RATE}])) * 3600",
                                m,
                            )
                            for m in ("created", "referred", "declined")
                        ]
                        + [
                            (
                                f"sum(rate(pd_prime_policies_bound_total[{RATE}])) * 3600",
                                "bound",
                            )
                        ],
                    ),
                    stat(
                        "Conversion (bound / created) by product",
                        [
                            (
                                "sum by (product) (increase(pd_prime_policies_bound_total"
                                "[$__range])) / sum by (product) "
                                "(increase(pd_prime_quotes_created_total[$__range]))",
                                "{{product}}",
                            )
                        ],
                        "percentunit",
                    ),
                    timeseries(
                        "Quotes created per hour by product",
                        [(per_hour.format(m="pd_prime_quotes_created_total"), "{{product}}")],
                    ),
                    timeseries(
                        "Rating latency p50 / p95 / p99 by product",
                        _quantiles("pd_prime_rating_duration_seconds", "product"),
                        "s",
                    ),
                ],
            ),
            (
                "Premium",
                [
                    stat(
                        "Written premium by product and state",
                        [
                            (
                                "sum by (product, state, currency) "
                                "(increase(pd_prime_written_premium_total[$__range]))",
                                "{{product}} {{state}} {{currency}}",
                            )
                        ],
                        description=APPROXIMATE,
                    ),
                    timeseries(
                        "Written premium per hour by product",
                        [
                            (
                                "sum by (product, currency) "
                                f"(rate(pd_prime_written_premium_total[{RATE}])) * 3600",
                                "{{product}} {{currency}}",
                            )
                        ],
                        description=APPROXIMATE,
                    ),
                ],
            ),
            (
                "Billing",
                [
                    timeseries(
                        "Payments per hour",
                        [
                            (
                                f"sum by (currency) (rate(pd_prime_payments_total[{RATE}])) * 3600",
                                "{{currency}}",
                            )
                        ],
                    ),
                    stat(
                        "Money received",
                        [
                            (
                                "sum by (currency) "
                                "(increase(pd_prime_payment_amount_total[$__range]))",
                                "{{currency}}",
                            )
                        ],
                        description=APPROXIMATE,
                    ),
                    stat(
                        "Notices of cancellation for non-payment",
                        [("sum(increase(pd_prime_delinquency_notices_total[$__range]))", "sent")],
                    ),
                    stat(
                        "Cancelled for non-payment",
                        [
                            (
                                "sum(increase(pd_prime_nonpayment_cancellations_total[$__range]))",
                                "cancelled",
                            )
                        ],
                        thresholds=[(None, "green"), (1, "orange")],
                    ),
                ],
            ),
            (
                "Claims",
                [
                    timeseries(
                        "Claims opened per hour by product",
                        [(per_hour.format(m="pd_prime_claims_opened_total"), "{{product}}")],
                    ),
                    stat(
                        "Claim payments",
                        [
                            (
                                "sum by (currency) "
                                "(increase(pd_prime_claim_payments_total[$__range]))",
                                "{{currency}}",
                            )
                        ],
                    ),
                    stat(
                        "Paid on claims",
                        [
                            (
                                "sum by (currency) "
                                "(increase(pd_prime_claim_paid_amount_total[$__range]))",
                                "{{currency}}",
                            )
                        ],
                        description=APPROXIMATE,
                    ),
                ],
            ),
        ],
    )


def security() -> dict[str, Any]:
    def by(metric: str, label: str) -> list[tuple[str, str]]:
        return [(f"sum by ({label}) (rate({metric}[{RATE}]))", f"{{{{{label}}}}}")]

    return dashboard(
        "pd-prime-security",
        "PD Prime / Security",
        [
            (
                "Authentication",
                [
                    timeseries(
                        "Login attempts by outcome",
                        by("pd_prime_login_attempts_total", "outcome"),
                        "ops",
                    ),
                    timeseries(
                        "Authentication failures by reason",
                        by("pd_prime_auth_failures_total", "reason"),
                        "ops",
                    ),
                    stat(
                        "Authentication failures (time range)",
                        [
                            (
                                "sum by (reason) "
                                "(increase(pd_prime_auth_failures_total[$__range]))",
                                "{{reason}}",
                            )
                        ],
                    ),
                ],
            ),
            (
                "Refusals",
                [
                    timeseries(
                        "Rate-limit rejections by scope",
                        by("pd_prime_rate_limit_rejections_total", "scope"),
                        "ops",
                    ),
                    timeseries(
                        "Permission denials by permission",
                        by("pd_prime_permission_denials_total", "permission"),
                        "ops",
                    ),
                ],
            ),
            (
                "Events",
                [
                    timeseries(
                        "Security events by type",
                        by("pd_prime_security_events_total", "type"),
                        "ops",
                    ),
                    timeseries(
                        "Audit entries by action",
                        by("pd_prime_audit_entries_total", "action"),
                        "ops",
                    ),
                ],
            ),
        ],
    )


DASHBOARDS = {"operations": operations, "business": business, "security": security}


def render(name: str) -> str:
    return json.dumps(DASHBOARDS[name](), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name in DASHBOARDS:
        (OUT / f"{name}.json").write_text(render(name), encoding="utf-8")
        sys.stdout.write(f"wrote {OUT / name}.json\n")
