"""Worker middleware: a span and the run metrics for every job attempt.

(Groundwork stub of issue 15; the tracing helper fills it in.)
"""

from __future__ import annotations

from typing import Any

from procrastinate.job_context import JobContext
from procrastinate.middleware import AsyncCallNext
from procrastinate.worker import Worker


async def job_telemetry(call_next: AsyncCallNext, context: JobContext, worker: Worker) -> Any:
    return await call_next()
