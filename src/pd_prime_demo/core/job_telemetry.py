"""Worker middleware: a span and the run metrics for every job attempt.

A job caused by a request (through an outbox event and the relay, or deferred by another job)
carries the ``traceparent`` of its cause among its arguments; the attempt's CONSUMER span
continues that trace, so a request's trace shows the jobs it set off. A job without one (a
periodic sweep, a job deferred by hand) starts a trace of its own.

The argument is taken out of the job's arguments before the task is called: the task
functions keep their own keyword signatures. procrastinate calls a task with
``**job.task_kwargs`` read when the call is made (``Worker._process_job``), after the worker
middleware has run, and the row in the queue keeps it for the next attempt.
"""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode
from procrastinate import exceptions
from procrastinate.job_context import AbortReason, JobContext
from procrastinate.middleware import AsyncCallNext
from procrastinate.worker import Worker

from pd_prime_demo.core.telemetry import JOB_DURATION, JOB_RUNS
from pd_prime_demo.core.tracing import configure_tracing, context_from_traceparent, tracer

TRACEPARENT = "traceparent"  # the job argument carrying the trace context of the job's cause


async def job_telemetry(call_next: AsyncCallNext, context: JobContext, worker: Worker) -> Any:
    configure_tracing()  # idempotent: the worker's process sets it up on its first job
    job = context.job
    carried = job.task_kwargs.pop(TRACEPARENT, None)
    parent = context_from_traceparent(carried if isinstance(carried, str) else None)
    task = job.task_name
    started = time.perf_counter()
    with tracer().start_as_current_span(
        f"job {task}",
        context=parent,
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": "procrastinate",
            "pd_prime.job.task": task,
            "pd_prime.job.id": job.id or 0,
            "pd_prime.job.attempt": job.attempts + 1,
            "pd_prime.job.queue": job.queue,
        },
        # The exception's message may quote the values that caused it: the type is enough.
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            result = await call_next()
        except BaseException as exc:
            outcome = "retried" if _will_retry(exc, context, worker) else "failed"
            span.set_attribute("error.type", type(exc).__name__)
            span.set_attribute("pd_prime.job.outcome", outcome)
            span.set_status(Status(StatusCode.ERROR))
            JOB_RUNS.labels(task, outcome).inc()
            raise
        else:
            JOB_RUNS.labels(task, "succeeded").inc()
            span.set_attribute("pd_prime.job.outcome", "succeeded")
            return result
        finally:
            JOB_DURATION.labels(task).observe(time.perf_counter() - started)


def _will_retry(exc: BaseException, context: JobContext, worker: Worker) -> bool:
    """Whether the queue will run this job again, decided as the worker decides it: an abort
    is final unless the worker is shutting down, otherwise the task's retry strategy."""
    if isinstance(exc, exceptions.JobAborted) and context.abort_reason() != AbortReason.SHUTDOWN:
        return False
    task = worker.app.tasks.get(context.job.task_name)
    return task is not None and task.get_retry_exception(exception=exc, job=context.job) is not None
