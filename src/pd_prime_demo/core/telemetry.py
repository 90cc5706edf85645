"""Prometheus metrics: request count and latency by route template and status."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "pd_prime_http_requests",
    "HTTP requests served, by method, route template and status code.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "pd_prime_http_request_duration_seconds",
    "HTTP request latency, by method, route template and status code.",
    ["method", "route", "status"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
AUDIT_ENTRIES = Counter(
    "pd_prime_audit_entries", "Audit entries written, by action.", ["action"], registry=REGISTRY
)
LOGIN_ATTEMPTS = Counter(
    "pd_prime_login_attempts", "Password logins, by outcome.", ["outcome"], registry=REGISTRY
)
