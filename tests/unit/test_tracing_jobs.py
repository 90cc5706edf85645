"""The worker middleware as the queue runs it (procrastinate's in-memory connector): a job
continues the trace it carries without its task seeing the argument, and each attempt is
counted as succeeded, retried or failed by the task's own retry strategy."""

from __future__ import annotations

import procrastinate
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from procrastinate.testing import InMemoryConnector

from pd_prime_demo.core.job_telemetry import TRACEPARENT, job_telemetry
from pd_prime_demo.core.queue import Backoff
from pd_prime_demo.core.telemetry import JOB_RUNS

CAUSE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _queue() -> tuple[procrastinate.App, list[int]]:
    app = procrastinate.App(connector=InMemoryConnector())
    seen: list[int] = []

    @app.task(name="tests.tracing.copy")
    async def copy(*, n: int) -> None:  # no traceparent parameter: it must not arrive
        seen.append(n)

    # Retried once at once (no delay), then failed for good.
    @app.task(name="tests.tracing.flaky", retry=Backoff((0,)))
    async def flaky(*, n: int) -> None:
        raise RuntimeError(f"attempt for {n} failed")

    return app, seen


def _count(task: str, outcome: str) -> float:
    return float(JOB_RUNS.labels(task, outcome)._value.get())


async def test_a_job_continues_the_trace_it_carries_and_its_task_never_sees_it(
    spans: InMemorySpanExporter,
) -> None:
    app, seen = _queue()
    before = _count("tests.tracing.copy", "succeeded")
    async with app.open_async():
        await app.configure_task("tests.tracing.copy").defer_async(n=7, **{TRACEPARENT: CAUSE})
        await app.configure_task("tests.tracing.copy").defer_async(n=8)
        await app.run_worker_async(wait=False, worker_middleware=[job_telemetry])

    assert sorted(seen) == [7, 8]
    assert _count("tests.tracing.copy", "succeeded") == before + 2
    carried, fresh = sorted(
        (s for s in spans.get_finished_spans() if s.kind == SpanKind.CONSUMER),
        key=lambda s: s.parent is None,
    )
    assert carried.name == "job tests.tracing.copy"
    assert carried.context is not None
    assert carried.parent is not None
    assert format(carried.context.trace_id, "032x") == CAUSE.split("-")[1]
    assert format(carried.parent.span_id, "016x") == CAUSE.split("-")[2]
    assert fresh.parent is None  # nothing carried: a trace of its own
    assert carried.attributes is not None
    assert carried.attributes["pd_prime.job.attempt"] == 1
    assert carried.attributes["pd_prime.job.outcome"] == "succeeded"


async def test_a_failed_attempt_counts_as_retried_until_the_strategy_gives_up(
    spans: InMemorySpanExporter,
) -> None:
    app, _ = _queue()
    retried = _count("tests.tracing.flaky", "retried")
    failed = _count("tests.tracing.flaky", "failed")
    async with app.open_async():
        await app.configure_task("tests.tracing.flaky").defer_async(n=1)
        await app.run_worker_async(wait=False, worker_middleware=[job_telemetry])

    assert _count("tests.tracing.flaky", "retried") == retried + 1
    assert _count("tests.tracing.flaky", "failed") == failed + 1
    attempts = sorted(
        (s for s in spans.get_finished_spans() if s.kind == SpanKind.CONSUMER),
        key=lambda s: int((s.attributes or {})["pd_prime.job.attempt"]),  # type: ignore[arg-type]
    )
    assert [(s.attributes or {})["pd_prime.job.outcome"] for s in attempts] == [
        "retried",
        "failed",
    ]
    for attempt in attempts:
        assert attempt.status.status_code == StatusCode.ERROR
        assert (attempt.attributes or {})["error.type"] == "RuntimeError"
        # The message may quote what caused it: only its type is kept.
        assert not attempt.events
        assert attempt.status.description is None
