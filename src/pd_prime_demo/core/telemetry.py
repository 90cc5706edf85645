"""Prometheus metrics: the catalogue of everything the platform exports.

One module names every metric, so the dashboards and alert rules in ``ops/`` have one place to
be checked against (``tests/ops``). Label values are bounded sets (route templates, product
codes, states, outcomes, reasons): never ids, e-mail addresses or anything personal.

Under ``pd-prime serve --workers N`` the metrics are kept in ``PROMETHEUS_MULTIPROC_DIR``
(prometheus-client's multiprocess mode), so a scrape of any worker sees them all; gauges say how
they combine across processes (``multiprocess_mode``). Business counters count committed work
only: they are incremented after the transaction commits (``core.after_commit``).

Gauges that describe the database (queue depth, dead letters, integrity checks, disabled
webhook subscriptions, database up) or the settings (key retirement, build) are never set:
each scrape computes them afresh (``operations.metrics``) and puts them in place of these
(``core.metrics_server``), so they are true whichever process is scraped and are not summed
over workers; their ``multiprocess_mode`` says how dashboards combine them across instances.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

# No `<counter>_created` series beside every counter and histogram: Prometheus does not use
# them, and they double the series each label set costs.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream

REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

# --- HTTP (api.middleware) ---
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
    buckets=_LATENCY,
    registry=REGISTRY,
)
HTTP_IN_FLIGHT = Gauge(
    "pd_prime_http_requests_in_flight",
    "HTTP requests being served now.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)

# --- Database pool (core.database) ---
DB_POOL_IN_USE = Gauge(
    "pd_prime_db_pool_connections_in_use",
    "Database connections checked out of the pool now.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "pd_prime_db_pool_connections_max",
    "The most connections the pool may hold (pool size plus overflow).",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
DB_POOL_WAIT = Histogram(
    "pd_prime_db_pool_wait_seconds",
    "Time a request waited for a database connection from the pool.",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0),
    registry=REGISTRY,
)
DB_POOL_TIMEOUTS = Counter(
    "pd_prime_db_pool_timeouts",
    "Checkouts that gave up waiting for a database connection.",
    registry=REGISTRY,
)

# --- Job queue (worker; depth and age are read from the database at scrape) ---
JOB_RUNS = Counter(
    "pd_prime_job_runs",
    "Job attempts finished, by task and outcome (succeeded, failed, retried).",
    ["task", "outcome"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "pd_prime_job_duration_seconds",
    "Job attempt duration, by task.",
    ["task"],
    buckets=_SLOW,
    registry=REGISTRY,
)
JOBS = Gauge(
    "pd_prime_jobs",
    "Jobs in the queue by queue and status (todo, doing, failed: failed are dead letters).",
    ["queue", "status"],
    registry=REGISTRY,
    multiprocess_mode="max",
)
JOBS_OLDEST_DUE_AGE = Gauge(
    "pd_prime_jobs_oldest_due_age_seconds",
    "How long the oldest job that is due has waited to start (0 when none waits).",
    registry=REGISTRY,
    multiprocess_mode="max",
)
OUTBOX_UNPUBLISHED = Gauge(
    "pd_prime_outbox_unpublished",
    "Committed events the relay has not yet published.",
    registry=REGISTRY,
    multiprocess_mode="max",
)

# --- Webhooks (webhooks.jobs) ---
WEBHOOK_DELIVERIES = Counter(
    "pd_prime_webhook_deliveries",
    "Webhook delivery attempts, by outcome (delivered, failed, retrying, disabled).",
    ["outcome"],
    registry=REGISTRY,
)
WEBHOOK_LATENCY = Histogram(
    "pd_prime_webhook_delivery_duration_seconds",
    "Webhook delivery attempt latency (the receiver's answer or the timeout), by outcome.",
    ["outcome"],
    buckets=_SLOW,
    registry=REGISTRY,
)
WEBHOOK_SUBSCRIPTIONS = Gauge(
    "pd_prime_webhook_subscriptions",
    "Webhook subscriptions by state (active, disabled), read from the database.",
    ["state"],
    registry=REGISTRY,
    multiprocess_mode="max",
)

# --- Real time (realtime) ---
WEBSOCKET_CONNECTIONS = Gauge(
    "pd_prime_websocket_connections",
    "Open WebSocket connections for live updates.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)

# --- Security (core.security_events: one call logs the event and counts it) ---
RATE_LIMITED = Counter(
    "pd_prime_rate_limit_rejections",
    "Requests refused for a rate limit, by the limit's scope (login, write, read, realtime).",
    ["scope"],
    registry=REGISTRY,
)
AUTH_FAILURES = Counter(
    "pd_prime_auth_failures",
    "Authentication failures by reason (bad_password, throttled, mfa_failed, mfa_throttled, "
    "token_invalid, api_key_invalid, refresh_invalid, token_reused, client_invalid, "
    "code_replayed).",
    ["reason"],
    registry=REGISTRY,
)
PERMISSION_DENIALS = Counter(
    "pd_prime_permission_denials",
    "Requests refused for a missing permission, by permission.",
    ["permission"],
    registry=REGISTRY,
)
SECURITY_EVENTS = Counter(
    "pd_prime_security_events",
    "Security events logged, by type.",
    ["type"],
    registry=REGISTRY,
)
LOGIN_ATTEMPTS = Counter(
    "pd_prime_login_attempts", "Password logins, by outcome.", ["outcome"], registry=REGISTRY
)
AUDIT_ENTRIES = Counter(
    "pd_prime_audit_entries", "Audit entries written, by action.", ["action"], registry=REGISTRY
)

# --- Integrity (the worker's periodic checks, read from the database at scrape) ---
INTEGRITY_OK = Gauge(
    "pd_prime_integrity_check_ok",
    "1 when the last run of an integrity check (audit_chain, ledger) passed, 0 when it failed.",
    ["check"],
    registry=REGISTRY,
    multiprocess_mode="max",
)
INTEGRITY_CHECKED_AT = Gauge(
    "pd_prime_integrity_check_timestamp_seconds",
    "When an integrity check last ran (Unix time).",
    ["check"],
    registry=REGISTRY,
    multiprocess_mode="max",
)
# --- SOC 2 controls (compliance.service sets it after each committed run) ---
# "mostrecent": the value is the latest run's verdict whichever process ran it (the worker's
# schedule or an admin's run now), and stays after that process exits, as the verdict does.
CONTROL_FAILED = Gauge(
    "pd_prime_control_failed",
    "1 when the latest run of a SOC 2 control failed, 0 when it passed.",
    ["control"],
    registry=REGISTRY,
    multiprocess_mode="mostrecent",
)
DATABASE_UP = Gauge(
    "pd_prime_database_up",
    "1 when the process reached the database at the last scrape, 0 when not.",
    registry=REGISTRY,
    multiprocess_mode="min",
)
KEY_EXPIRY = Gauge(
    "pd_prime_key_expiry_timestamp_seconds",
    "When a signing key or certificate is due to retire or expire (Unix time), by purpose and "
    "key id.",
    ["purpose", "kid"],
    registry=REGISTRY,
    multiprocess_mode="max",
)
BUILD_INFO = Gauge(
    "pd_prime_build_info",
    "Always 1; the version and migration head of the running code.",
    ["version", "migration_head"],
    registry=REGISTRY,
    multiprocess_mode="max",
)

# --- Business (counted after commit) ---
QUOTES_CREATED = Counter(
    "pd_prime_quotes_created",
    "Quotes created, by product and state.",
    ["product", "state"],
    registry=REGISTRY,
)
QUOTES_REFERRED = Counter(
    "pd_prime_quotes_referred",
    "Quotes referred to an underwriter, by product and state.",
    ["product", "state"],
    registry=REGISTRY,
)
QUOTES_DECLINED = Counter(
    "pd_prime_quotes_declined",
    "Quotes declined by underwriting rules or an underwriter, by product and state.",
    ["product", "state"],
    registry=REGISTRY,
)
POLICIES_BOUND = Counter(
    "pd_prime_policies_bound",
    "Policies bound from quotes, by product and state.",
    ["product", "state"],
    registry=REGISTRY,
)
WRITTEN_PREMIUM = Counter(
    "pd_prime_written_premium",
    "Written premium of bound policies (in the currency's units), by product, state and currency.",
    ["product", "state", "currency"],
    registry=REGISTRY,
)
RATING_DURATION = Histogram(
    "pd_prime_rating_duration_seconds",
    "Time to rate a quote (every package), by product.",
    ["product"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
PAYMENTS = Counter(
    "pd_prime_payments",
    "Payments received, by currency.",
    ["currency"],
    registry=REGISTRY,
)
PAYMENT_AMOUNT = Counter(
    "pd_prime_payment_amount",
    "Money received in payments (in the currency's units), by currency.",
    ["currency"],
    registry=REGISTRY,
)
DELINQUENCY_NOTICES = Counter(
    "pd_prime_delinquency_notices",
    "Notices of cancellation for non-payment sent by the billing run.",
    registry=REGISTRY,
)
NONPAYMENT_CANCELLATIONS = Counter(
    "pd_prime_nonpayment_cancellations",
    "Policies cancelled for non-payment by the billing run.",
    registry=REGISTRY,
)
CLAIMS_OPENED = Counter(
    "pd_prime_claims_opened",
    "Claims opened (first notice of loss), by product.",
    ["product"],
    registry=REGISTRY,
)
CLAIM_PAYMENTS = Counter(
    "pd_prime_claim_payments",
    "Claim payments issued, by currency.",
    ["currency"],
    registry=REGISTRY,
)
CLAIM_PAID_AMOUNT = Counter(
    "pd_prime_claim_paid_amount",
    "Money paid on claims (in the currency's units), by currency.",
    ["currency"],
    registry=REGISTRY,
)
