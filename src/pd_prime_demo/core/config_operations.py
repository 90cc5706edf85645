"""The settings of operations: where metrics are served, what readiness checks, backups.
Part of :class:`~pd_prime_demo.core.config.Settings` (a base class of it).

Tracing is configured by the standard ``OTEL_*`` environment variables (``OTEL_SERVICE_NAME``,
``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_TRACES_SAMPLER``, ``OTEL_SDK_DISABLED``...), read by the
OpenTelemetry SDK itself, not by these settings: the names every collector's docs use.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class OperationsSettings(BaseModel):
    # --- Operations (issue 15) ---
    # A separate listen address ("127.0.0.1:9464") for Prometheus metrics, kept off the public
    # port: the API then answers /metrics only with the bearer metrics_token (if set). The
    # worker serves its own metrics on worker_metrics_listen.
    metrics_listen: str | None = None
    worker_metrics_listen: str | None = None
    # Readiness: the job queue is "lagging" when its oldest due job has waited longer. A
    # lagging queue makes the answer "degraded" (200), not "not_ready" (503), unless
    # ready_queue_lag_gates: a background backlog is no reason for a load balancer to take
    # every API instance out of rotation (it would turn a late job into an outage); the
    # PdPrimeJobQueueStuck alert pages for it instead.
    ready_max_queue_lag_seconds: int = Field(default=300, ge=1)
    ready_queue_lag_gates: bool = False
    # Readiness: with the embedded database, the data directory's free disk below this is 503.
    ready_min_free_disk_bytes: int = Field(default=512 * 1024 * 1024, ge=0)
    # Readiness answers are cached this long, so polling every second costs one check a second
    # at most, whatever the number of pollers.
    ready_cache_seconds: float = Field(default=1.0, ge=0, le=60)
    # Where `pd-prime backup` writes its archives (relative paths are under the data dir).
    backup_dir: Path = Path("backups")
    # How often the worker checks the audit chain and the ledger (their result is a metric).
    integrity_check_cron: str = "17 * * * *"
