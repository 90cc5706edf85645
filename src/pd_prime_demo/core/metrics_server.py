"""Metrics on a listen address of their own (``metrics_listen``, ``worker_metrics_listen``).

(Groundwork stub of issue 15; the metrics helper fills it in.)
"""

from __future__ import annotations


def serve_metrics(listen: str | None) -> None:
    """Serve the process's metrics on ``listen`` ("host:port") in the background; None: not."""
