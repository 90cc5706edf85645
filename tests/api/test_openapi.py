"""The OpenAPI document is a product: valid, and every route declares its errors."""

from __future__ import annotations

from httpx import AsyncClient
from openapi_spec_validator import validate

PUBLIC_WITHOUT_ERRORS = {("/api/v1/auth/jwks.json", "get"), ("/api/v1/products/schema", "get")}


async def test_openapi_document_is_valid(client: AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    validate(document)
    assert document["openapi"].startswith("3.1")
    assert "Problem" in document["components"]["schemas"]


async def test_every_api_route_declares_problem_responses(client: AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    missing = []
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            if (path, method) in PUBLIC_WITHOUT_ERRORS:
                continue
            errors = {code: r for code, r in operation["responses"].items() if code[0] in "45"}
            problem_typed = [
                code
                for code, r in errors.items()
                if "application/problem+json" in r.get("content", {})
            ]
            if not problem_typed:
                missing.append(f"{method.upper()} {path}")
            assert operation.get("summary"), f"{method} {path} has no summary"
    assert not missing, f"routes without problem+json error responses: {missing}"


async def test_protected_routes_declare_401(client: AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation.get("security"):
                assert "401" in operation["responses"], f"{method} {path} lacks 401"
