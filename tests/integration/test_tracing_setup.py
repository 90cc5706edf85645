"""Tracing set up from the standard ``OTEL_*`` environment, each case in a fresh process (the
tracer provider can be installed once per process): the service's name, tracing turned off,
and an OTLP collector that is down, which must cost requests nothing but their spans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

# Serves a request through the edge's request context, prints what a caller and an operator see.
SCRIPT = textwrap.dedent(
    """
    import asyncio, json
    from httpx import ASGITransport, AsyncClient
    from opentelemetry import trace
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from pd_prime_demo.api.middleware import RequestContextMiddleware
    from pd_prime_demo.core.tracing import configure_tracing

    async def hello(request):
        return PlainTextResponse("hello")

    async def main():
        configure_tracing()
        configure_tracing()  # a second call changes nothing
        app = RequestContextMiddleware(Starlette(routes=[Route("/hello/{name}", hello)]))
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
            answers = [await client.get("/hello/x") for _ in range(3)]
            sampled_by_caller = await client.get(
                "/hello/x",
                headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
            )
        provider = trace.get_tracer_provider()
        resource = getattr(provider, "resource", None)
        print(json.dumps({
            "status": [a.status_code for a in answers],
            "traceparent": answers[0].headers.get("traceparent"),
            "continued": sampled_by_caller.headers.get("traceparent"),
            "service": resource.attributes.get("service.name") if resource else None,
            "team": resource.attributes.get("team") if resource else None,
        }))

    asyncio.run(main())
    """
)


def _serve(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", SCRIPT],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_service_is_named_from_the_environment() -> None:
    named = _serve(OTEL_SERVICE_NAME="pd-prime-api", OTEL_RESOURCE_ATTRIBUTES="team=core")

    assert named["service"] == "pd-prime-api"
    assert named["team"] == "core"
    assert str(named["traceparent"]).startswith("00-")  # ids without any exporter


def test_tracing_turned_off_leaves_no_trace_context_in_the_answer() -> None:
    off = _serve(OTEL_SDK_DISABLED="true")

    assert off["status"] == [200, 200, 200]
    assert off["traceparent"] is None


def test_a_collector_that_is_down_costs_the_requests_nothing() -> None:
    # Port 9 (discard) on the loopback: nothing listens, every export is refused.
    down = _serve(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_EXPORTER_OTLP_TIMEOUT="1")

    assert down["status"] == [200, 200, 200]
    assert str(down["traceparent"]).startswith("00-")
    assert down["service"] == "pd-prime"  # the default name, none being configured


def _sampled(traceparent: object) -> bool:
    """The sampled bit of a traceparent's trace flags (the others say how ids were made)."""
    return bool(int(str(traceparent).rsplit("-", 1)[1], 16) & 1)


def test_spans_are_recorded_only_when_they_have_somewhere_to_go_or_a_sampler_asks() -> None:
    served = _serve()
    idle = served["traceparent"]
    assert str(idle).startswith("00-")  # ids for the logs and the jobs, nothing recorded
    assert not _sampled(idle)
    continued = served["continued"]  # a caller's sampled trace stays sampled
    assert str(continued).startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
    assert _sampled(continued)
    exporting = _serve(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9", OTEL_EXPORTER_OTLP_TIMEOUT="1"
    )
    assert _sampled(exporting["traceparent"])
    assert _sampled(_serve(OTEL_TRACES_SAMPLER="always_on")["traceparent"])
