"""The compliance domain's queue jobs and their periodic schedule (``worker.queue_app``)."""

from __future__ import annotations

import procrastinate

from pd_prime_demo.core.config import Settings

blueprint = procrastinate.Blueprint()


def schedule(app: procrastinate.App, settings: Settings) -> None:
    """Put this domain's periodic tasks on app's schedule (its tasks are added already,
    under the ``compliance:`` namespace)."""
