"""OpenTelemetry tracing: the SDK from the standard ``OTEL_*`` variables, and business spans.

(Skeleton of the groundwork: the tracing helper fills in :func:`configure_tracing`.)

Business code opens spans with :func:`business_span`; attributes are ids of products, states,
versions and counts, never personal data (a name, an address, a date of birth, a VIN).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import Span
from opentelemetry.util.types import AttributeValue
from sqlalchemy.ext.asyncio import AsyncEngine

TRACER_NAME = "pd_prime"


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


@contextmanager
def business_span(name: str, **attributes: AttributeValue | None) -> Iterator[Span]:
    """A span named ``name`` (``quote.rate``, ``policy.bind``, ``payment.record``) around a use
    case, with ``attributes`` (None values left out) under the ``pd_prime.`` prefix."""
    with tracer().start_as_current_span(
        name,
        attributes={f"pd_prime.{k}": v for k, v in attributes.items() if v is not None},
    ) as span:
        yield span


def instrument_engine(engine: AsyncEngine) -> None:
    """Record a span for every SQL statement ``engine`` runs (groundwork stub)."""
