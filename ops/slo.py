"""The service level objectives of PD Prime, and the Prometheus recording rules they imply.

The SLOs are data here, once; ``python ops/slo.py`` writes
``ops/prometheus/rules/pd-prime-recording.yml`` from them (``tests/ops`` fails when the file is
stale, and checks the table in docs/operations.md against the written rules). The alert rules
(``pd-prime-alerts.yml``) are written by hand and read only the recorded series, so a new SLO
needs no new alert.

Each SLO has two SLIs, both "bad events / all events" ratios over a route template:
availability (bad: a 5xx answer) and latency (bad: slower than a histogram bucket bound, so
the ratio is exact rather than interpolated). The windows are those of the multi-window,
multi-burn-rate alerts of the Google SRE workbook (chapter 5, "Alerting on SLOs").
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

RECORDING_RULES = Path(__file__).parent / "prometheus" / "rules" / "pd-prime-recording.yml"

WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")

# The HTTP histogram's bucket bounds as prometheus-client writes them in the `le` label.
BUCKET_BOUNDS = ("0.002", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5")


@dataclass(frozen=True)
class Slo:
    name: str
    method: str
    route: str
    availability: float  # share of requests answered without a 5xx
    latency_seconds: str  # a bucket bound of pd_prime_http_request_duration_seconds
    latency: float  # share of requests answered within latency_seconds

    def selector(self, extra: str = "") -> str:
        return f'{{method="{self.method}",route="{self.route}"{extra}}}'


SLOS = (
    # Rating every package of a quote is the heaviest request a customer waits on.
    Slo("quote", "POST", "/api/v1/quotes", 0.999, "1.0", 0.99),
    # Bind issues the policy, its ledger entries and its first invoice in one transaction.
    Slo("bind", "POST", "/api/v1/quotes/{quote_id}/bind", 0.999, "2.5", 0.99),
    # Reading a policy is what every agent and portal does most: a tighter objective.
    Slo("read_policy", "GET", "/api/v1/policies/{policy_id}", 0.9995, "0.25", 0.99),
    Slo("pay", "POST", "/api/v1/policies/{policy_id}/payments", 0.999, "0.5", 0.99),
)

REQUESTS = "pd_prime_http_requests_total"
DURATION = "pd_prime_http_request_duration_seconds"
# The service's error ratio leaves out the probes and the scrape: they would dilute it, and
# /health/ready answers 503 on purpose while the database is down (its own alert pages).
NOT_PROBES = 'route!~"/health.*|/metrics"'


def _rule(record: str, expr: str, **labels: str) -> dict[str, object]:
    rule: dict[str, object] = {"record": record, "expr": expr}
    if labels:
        rule["labels"] = labels
    return rule


def _slo_rules(slo: Slo) -> list[dict[str, object]]:
    rules = [
        _rule(
            "pd_prime_slo:error_budget:ratio",
            f"vector({1 - slo.availability:.6g})",
            slo=slo.name,
            sli="availability",
        ),
        _rule(
            "pd_prime_slo:error_budget:ratio",
            f"vector({1 - slo.latency:.6g})",
            slo=slo.name,
            sli="latency",
        ),
    ]
    for window in WINDOWS:
        total = f"sum(rate({REQUESTS}{slo.selector()}[{window}]))"
        # `or vector(0)`: with no 5xx yet the numerator has no series at all; the ratio is
        # then 0, not absent, so dashboards show a healthy service as 0.
        server_errors = slo.selector(',status=~"5.."')
        errors = f"(sum(rate({REQUESTS}{server_errors}[{window}])) or vector(0))"
        rules.append(
            _rule(
                f"pd_prime_slo:errors:ratio_rate{window}",
                f"{errors} / {total}",
                slo=slo.name,
                sli="availability",
            )
        )
        within = slo.selector(f',le="{slo.latency_seconds}"')
        fast = f"sum(rate({DURATION}_bucket{within}[{window}]))"
        count = f"sum(rate({DURATION}_count{slo.selector()}[{window}]))"
        rules.append(
            _rule(
                f"pd_prime_slo:errors:ratio_rate{window}",
                f"1 - {fast} / {count}",
                slo=slo.name,
                sli="latency",
            )
        )
    return rules


def recording_rules() -> str:
    for slo in SLOS:
        if slo.latency_seconds not in BUCKET_BOUNDS:
            raise ValueError(f"{slo.name}: {slo.latency_seconds}s is not a bucket bound")
    document = {
        "groups": [
            {
                "name": "pd-prime-http",
                "rules": [
                    _rule(
                        "pd_prime:http_requests:rate5m",
                        f"sum by (method, route) (rate({REQUESTS}[5m]))",
                    ),
                    _rule(
                        "pd_prime:http_errors:ratio_rate5m",
                        f'(sum(rate({REQUESTS}{{{NOT_PROBES},status=~"5.."}}[5m])) or vector(0))'
                        f" / sum(rate({REQUESTS}{{{NOT_PROBES}}}[5m]))",
                    ),
                ],
            },
            {
                "name": "pd-prime-slo",
                "rules": [rule for slo in SLOS for rule in _slo_rules(slo)],
            },
        ]
    }
    header = (
        "# Generated by `python ops/slo.py` from its SLO table: edit that, then regenerate.\n"
        "# pd_prime_slo:errors:ratio_rate<window>{slo, sli}: the share of bad requests over the\n"
        "# window; pd_prime_slo:error_budget:ratio{slo, sli}: 1 - the objective.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, width=200)


if __name__ == "__main__":
    RECORDING_RULES.write_text(recording_rules(), encoding="utf-8")
    sys.stdout.write(f"wrote {RECORDING_RULES}\n")
