"""Spans for the tests that read them, and only for those.

The process's tracer provider is installed here, before any app configures tracing
(``configure_tracing`` keeps a provider installed before it): its sampler records spans only
while a test holds the ``spans`` fixture, so the rest of the suite runs as production does with
no exporter (spans with ids, none recorded) and piles nothing up in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes


class _WhileRecording(Sampler):
    """Every span while a test records, none otherwise."""

    recording = False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        sampler = ALWAYS_ON if self.recording else ALWAYS_OFF
        return sampler.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return "WhileRecording"


_SAMPLER = _WhileRecording()
EXPORTER = InMemorySpanExporter()


def install_provider() -> None:
    """The tests' tracer provider (once per process, before any app is built)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider(sampler=_SAMPLER)
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        trace.set_tracer_provider(provider)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans finished during the test (every span is sampled meanwhile)."""
    EXPORTER.clear()
    _SAMPLER.recording = True
    try:
        yield EXPORTER
    finally:
        _SAMPLER.recording = False
        EXPORTER.clear()
