"""Health, metrics, request ids and the RFC 9457 error contract."""

from __future__ import annotations

import re

from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import create_async_engine

from pd_prime_demo.core.database import Database
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app


async def test_liveness(client: AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_database_at_head(client: AsyncClient) -> None:
    response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    checks = response.json()["checks"]
    assert checks["database"]["ok"]
    assert checks["migrations"]["ok"]


async def test_not_ready_when_database_unreachable(runtime: Runtime) -> None:
    engine = create_async_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    broken = Runtime(
        settings=runtime.settings,
        db=Database(engine),
        cache=runtime.cache,
        cipher=runtime.cipher,
        signer=runtime.signer,
        passwords=runtime.passwords,
        queue=runtime.queue,
    )
    app = create_app(runtime=broken)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/health/ready")
    await engine.dispose()
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    checks = response.json()["checks"]
    assert checks["database"]["ok"] is False
    assert checks["database"]["detail"].startswith("unreachable")
    # What depends on the database is unknown, never reported healthy.
    assert not checks["migrations"]["ok"]
    assert not checks["queue"]["ok"]


async def test_metrics_count_requests_by_route_template(runtime: Runtime) -> None:
    runtime.settings = runtime.settings.model_copy(update={"metrics_token": SecretStr("t0k3n")})
    transport = ASGITransport(app=create_app(runtime=runtime))
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/api/v1/customers/00000000-0000-0000-0000-000000000000")
        text = (await client.get("/metrics", headers={"Authorization": "Bearer t0k3n"})).text
    assert re.search(
        r'pd_prime_http_requests_total\{method="GET",route="/api/v1/customers/\{customer_id\}",'
        r'status="401"\} [1-9]',
        text,
    ), "expected the route template, not the raw path, as the label"
    assert "pd_prime_http_request_duration_seconds_bucket" in text


async def test_request_id_is_echoed_or_generated(client: AsyncClient) -> None:
    given = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    generated = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["X-Request-ID"])


async def test_unknown_route_is_problem_json(client: AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here", headers={"X-Request-ID": "r-404"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "http.not_found"
    assert body["request_id"] == "r-404"
    assert body["type"] == "urn:pd-prime:problem:http.not_found"


async def test_wrong_method_is_problem_json_with_allow(client: AsyncClient) -> None:
    response = await client.delete("/health")
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/problem+json"
    assert "GET" in response.headers["allow"]


async def test_validation_error_points_at_the_field(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/registrations",
        json={
            "email": "not-an-email",
            "password": "x",
            "first_name": "A",
            "last_name": "B",
            "address": {"line1": "1", "city": "c", "state": "ZZ", "postal_code": "1"},
            "is_admin": True,
        },
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "request.invalid"
    pointers = {e["pointer"] for e in body["errors"]}
    assert {"#/email", "#/address/state", "#/address/postal_code", "#/is_admin"} <= pointers
    assert "not-an-email" not in response.text, "input values are never echoed"


async def test_malformed_json_is_422_problem(client: AsyncClient) -> None:
    response = await client.post(
        "/api/v1/registrations", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_unexpected_error_is_500_problem_without_internals(runtime: Runtime) -> None:
    app: FastAPI = create_app(runtime=runtime)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail: password=hunter2")

    transport = ASGITransport(app=app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom", headers={"X-Request-ID": "r-500"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["X-Request-ID"] == "r-500"
    body = response.json()
    assert body["code"] == "internal.error"
    assert body["request_id"] == "r-500"
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
