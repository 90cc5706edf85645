"""The HTTP edge (docs/security.md): security headers on every response, CORS allow-list,
request body limit, offline docs under a CSP, /metrics behind a token, the demo header."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from pydantic import SecretStr, ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core.actor import Role
from pd_prime_demo.core.config import Environment, Settings
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.main import create_app
from tests.conftest import make_settings
from tests.factories import auto_quote, draw_documents, person, user_login

SECURITY_HEADERS = (
    "strict-transport-security",
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
    "cross-origin-opener-policy",
    "permissions-policy",
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def _assert_secured(response: Response, *, api: bool = True) -> None:
    missing = [name for name in SECURITY_HEADERS if name not in response.headers]
    assert not missing, f"{response.request.url.path} {response.status_code} lacks {missing}"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "camera=()" in response.headers["permissions-policy"]
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "unsafe-eval" not in csp
    if api:
        assert csp.startswith(API_CSP), csp
        assert response.headers["cross-origin-opener-policy"] == "same-origin"


async def _client_for(app: FastAPI) -> AsyncClient:
    return AsyncClient(
        transport=ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t"
    )


def _with(runtime: Runtime, **settings: Any) -> FastAPI:
    """An app over the test's runtime with some settings changed."""
    runtime.settings = runtime.settings.model_copy(update=settings)
    return create_app(runtime=runtime)


# --- Security headers -------------------------------------------------------------------


async def test_every_kind_of_response_carries_the_security_headers(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    responses = [
        await client.get("/health"),
        await client.get("/openapi.json"),
        await client.get("/api/v1/customers", headers=agent.headers),
        await client.post("/api/v1/customers", json=person(), headers=agent.headers),
        await client.get("/api/v1/customers/00000000-0000-0000-0000-000000000000"),  # 401
        await client.get("/api/v1/nothing-here"),  # 404
        await client.delete("/health"),  # 405
        await client.post("/api/v1/customers", json={"kind": "x"}, headers=agent.headers),
        await client.get("/metrics"),  # 404: no token configured
        await client.get("/docs/assets/swagger-ui/swagger-ui-bundle.js"),
        await client.get("/docs/assets/nothing.js"),  # 404 from the static files
    ]
    assert [r.status_code for r in responses] == [
        200,
        200,
        200,
        201,
        401,
        404,
        405,
        422,
        404,
        200,
        404,
    ]
    for response in responses:
        _assert_secured(response)
    hsts = responses[0].headers["strict-transport-security"]
    assert hsts == "max-age=63072000; includeSubDomains"


async def test_the_500_problem_carries_the_security_headers(runtime: Runtime) -> None:
    app = create_app(runtime=runtime)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("an internal failure")

    async with await _client_for(app) as client:
        response = await client.get("/boom", headers={"X-Request-ID": "r-500"})
    assert response.status_code == 500
    assert response.json()["code"] == "internal.error"
    assert response.json()["request_id"] == "r-500"
    assert response.headers["x-request-id"] == "r-500"
    _assert_secured(response)


async def test_hsts_follows_the_settings(runtime: Runtime) -> None:
    app = _with(runtime, hsts_max_age_seconds=300, hsts_include_subdomains=False, hsts_preload=True)
    async with await _client_for(app) as client:
        response = await client.get("/health")
    assert response.headers["strict-transport-security"] == "max-age=300; preload"


async def test_a_pdf_document_carries_the_security_headers(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote = (
        await client.post("/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers)
    ).json()
    bound = await client.post(
        f"/api/v1/quotes/{quote['id']}/bind", json={"option": "standard"}, headers=agent.headers
    )
    assert bound.status_code == 201, bound.text
    assert await draw_documents(runtime) >= 1
    url = f"/api/v1/policies/{bound.json()['id']}/documents"
    document = (await client.get(url, headers=agent.headers)).json()["items"][0]
    pdf = await client.get(f"/api/v1/documents/{document['id']}", headers=agent.headers)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
    _assert_secured(pdf)


async def test_demo_mode_marks_every_response(runtime: Runtime, client: AsyncClient) -> None:
    assert "x-pd-prime-demo" not in (await client.get("/health")).headers
    app = _with(runtime, env=Environment.DEMO)
    async with await _client_for(app) as demo:
        responses = [
            await demo.get("/health"),
            await demo.get("/api/v1/nothing-here"),
            await demo.get("/docs"),
            await demo.post("/api/v1/registrations", json={}),
        ]
    for response in responses:
        assert response.headers["x-pd-prime-demo"] == "true", response.request.url


# --- CORS -------------------------------------------------------------------------------

PARTNER = "https://partner.example"


@pytest.fixture
async def cors_client(runtime: Runtime) -> AsyncIterator[AsyncClient]:
    app = _with(runtime, cors_allow_origins=[PARTNER])
    async with await _client_for(app) as client:
        yield client


async def test_an_allowed_origin_gets_the_cors_headers(cors_client: AsyncClient) -> None:
    response = await cors_client.get("/health", headers={"Origin": PARTNER})
    assert response.headers["access-control-allow-origin"] == PARTNER
    assert "access-control-allow-credentials" not in response.headers
    assert "X-Request-ID" in response.headers["access-control-expose-headers"]
    # A problem is readable by the allowed page too, so it can show the request id.
    unknown = await cors_client.get("/api/v1/nothing-here", headers={"Origin": PARTNER})
    assert unknown.headers["access-control-allow-origin"] == PARTNER


async def test_another_origin_gets_no_cors_headers(cors_client: AsyncClient) -> None:
    response = await cors_client.get("/health", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert not [name for name in response.headers if name.startswith("access-control-")]


async def test_no_origin_is_allowed_by_default(client: AsyncClient) -> None:
    response = await client.get("/health", headers={"Origin": PARTNER})
    assert not [name for name in response.headers if name.startswith("access-control-")]
    preflight = await client.options(
        "/api/v1/customers",
        headers={"Origin": PARTNER, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers


async def test_preflight_of_an_allowed_origin_and_of_another(cors_client: AsyncClient) -> None:
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }
    allowed = await cors_client.options("/api/v1/customers", headers={"Origin": PARTNER, **asked})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == PARTNER
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
    assert allowed.headers["access-control-max-age"] == "600"
    _assert_secured(allowed)
    refused = await cors_client.options(
        "/api/v1/customers", headers={"Origin": "https://evil.example", **asked}
    )
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "cors.not_allowed"
    assert "access-control-allow-origin" not in refused.headers
    _assert_secured(refused)


def test_cors_settings_refuse_a_wildcard_with_credentials_and_loose_origins() -> None:
    url = "postgresql://nowhere/x"
    with pytest.raises(ValidationError, match="never allowed with credentials"):
        make_settings(url, cors_allow_origins=["*"], cors_allow_credentials=True)
    for loose in ("https://partner.example/", "partner.example", "https://*.example"):
        with pytest.raises(ValidationError, match="scheme://host"):
            make_settings(url, cors_allow_origins=[loose])
    assert make_settings(url, cors_allow_origins=["*"]).cors_allow_origins == ["*"]
    assert Settings.model_fields["cors_allow_origins"].get_default(call_default_factory=True) == []


# --- Body size ----------------------------------------------------------------------------


class _Body:
    """A request body streamed in chunks, counting how many the server pulled."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total, self.chunk, self.pulled = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        piece = b"[" + b"1," * (self.chunk // 2)
        while sent < self.total:
            self.pulled += 1
            block = piece[: min(self.chunk, self.total - sent)]
            sent += len(block)
            yield block


async def _customers(session: AsyncSession) -> int:
    return int(await session.scalar(text("SELECT count(*) FROM customers")) or 0)


async def test_a_30_mb_body_is_refused_before_it_is_read(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    before = await _customers(session)
    body = _Body(30 * 1024 * 1024)
    started = time.perf_counter()
    response = await client.post(
        "/api/v1/customers",
        content=body,
        headers={
            **agent.headers,
            "Content-Type": "application/json",
            "Content-Length": str(body.total),
        },
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "request.too_large"
    assert problem["request_id"] == response.headers["x-request-id"]
    assert body.pulled == 0, "the declared length alone refuses it"
    _assert_secured(response)
    assert await _customers(session) == before
    print(f"30 MB with Content-Length refused in {elapsed * 1000:.1f} ms")


async def test_a_chunked_body_without_length_is_counted(
    client: AsyncClient, runtime: Runtime, session: AsyncSession
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    before = await _customers(session)
    body = _Body(30 * 1024 * 1024)
    response = await client.post(
        "/api/v1/customers",
        content=body,
        headers={**agent.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "request.too_large"
    # 1 MiB in 64 KiB chunks: the 17th passes the limit, and nothing more is read.
    assert body.pulled == 17
    _assert_secured(response)
    assert await _customers(session) == before


async def test_a_body_under_the_limit_is_read_and_the_import_route_takes_more(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    created = await client.post("/api/v1/customers", json=person(), headers=agent.headers)
    assert created.status_code == 201
    admin = await user_login(client, runtime, Role.ADMIN)
    # 2 MiB of book: past the default limit, within the import's own (a 422 from the route
    # for its unreadable content, not the edge's 413).
    book = b'"' + b"x" * (2 * 1024 * 1024) + b'"'
    response = await client.post(
        "/api/v1/policies/imports",
        content=book,
        headers={**admin.headers, "Content-Type": "application/json"},
    )
    assert response.status_code != 413, response.text
    assert response.status_code < 500


async def test_the_body_limit_follows_the_settings(runtime: Runtime) -> None:
    app = _with(runtime, max_body_bytes=2048)
    async with await _client_for(app) as client:
        small = await client.post("/api/v1/registrations", content=b"{}" + b" " * 1000)
        large = await client.post("/api/v1/registrations", content=b"{}" + b" " * 3000)
    assert small.status_code == 422
    assert large.status_code == 413
    assert large.json()["code"] == "request.too_large"


# --- Docs offline under a CSP ---------------------------------------------------------------


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.inline_scripts = 0
        self.inline_styles = 0
        self.data: dict[str, str] = {}
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.refs += [values[name] for name in ("src", "href") if name in values]
        self.data.update({k: v for k, v in values.items() if k.startswith("data-")})
        if "style" in values or any(name.startswith("on") for name in values):
            self.inline_styles += 1
        self._in_script = tag == "script"
        if tag == "style":
            self.inline_styles += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1


async def _page(client: AsyncClient, url: str) -> tuple[Response, _Refs]:
    response = await client.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    parser = _Refs()
    parser.feed(response.text)
    assert parser.inline_scripts == 0
    assert parser.inline_styles == 0
    assert parser.refs, url
    for ref in parser.refs:
        assert ref.startswith("/docs/assets/"), f"{url} references {ref}, not a vendored asset"
        asset = await client.get(ref)
        assert asset.status_code == 200, ref
        kind = asset.headers["content-type"]
        assert kind.split(";")[0] in {
            "text/javascript",
            "application/javascript",
            "text/css",
            "image/png",
        }, (ref, kind)
        assert len(asset.content) > 0
    _assert_secured(response, api=False)
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "default-src 'none'" in csp
    return response, parser


async def test_swagger_ui_is_served_offline_under_a_strict_csp(client: AsyncClient) -> None:
    response, page = await _page(client, "/docs")
    assert "style-src 'self';" in response.headers["content-security-policy"]
    assert page.data["data-openapi-url"] == "/openapi.json"
    initialiser = (await client.get("/docs/assets/docs/swagger-init.js")).text
    assert "persistAuthorization: true" in initialiser
    assert page.data["data-oauth2-redirect-url"] == "/docs/oauth2-redirect"
    redirect, _ = await _page(client, "/docs/oauth2-redirect")
    assert redirect.headers["cross-origin-opener-policy"] == "unsafe-none"
    # The scheme Swagger's "Authorize" uses is in the document it loads.
    schemes = (await client.get("/openapi.json")).json()["components"]["securitySchemes"]
    assert any(s["type"] == "oauth2" for s in schemes.values())


async def test_redoc_is_served_offline_with_a_fresh_style_nonce(client: AsyncClient) -> None:
    first, page = await _page(client, "/redoc")
    nonce = page.data["data-nonce"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{24}", nonce)
    assert f"style-src 'self' 'nonce-{nonce}'" in first.headers["content-security-policy"]
    again, _ = await _page(client, "/redoc")
    assert f"'nonce-{nonce}'" not in again.headers["content-security-policy"]
    initialiser = (await client.get("/docs/assets/docs/redoc-init.js")).text
    assert "nonce: root.dataset.nonce" in initialiser


async def test_the_vendored_assets_are_recorded_with_their_licences() -> None:
    from pd_prime_demo.api.docs import STATIC_DIR

    readme = (STATIC_DIR / "README.md").read_text()
    assert "swagger-ui-dist@5.35.0" in readme
    assert "redoc@2.5.4" in readme
    assert (STATIC_DIR / "swagger-ui" / "LICENSE").is_file()
    assert (STATIC_DIR / "redoc" / "LICENSE").is_file()


# --- /metrics -----------------------------------------------------------------------------


async def test_metrics_do_not_exist_without_a_token(client: AsyncClient) -> None:
    response = await client.get("/metrics", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "pd_prime_http" not in response.text


async def test_metrics_need_the_configured_token(runtime: Runtime) -> None:
    app = _with(runtime, metrics_token=SecretStr("scrape-me-please"))
    async with await _client_for(app) as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me-pleasE"})
        basic = await client.get("/metrics", headers={"Authorization": "Basic scrape-me-please"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me-please"})
    for refused in (missing, wrong, basic):
        assert refused.status_code == 401
        assert refused.json()["code"] == "metrics.unauthenticated"
        assert "pd_prime_http" not in refused.text
    assert right.status_code == 200
    assert "pd_prime_http_requests_total" in right.text
    _assert_secured(right)


# --- Lists refuse a caller without the permission (not an empty page) --------------------


async def test_an_adjuster_listing_quotes_is_refused(client: AsyncClient, runtime: Runtime) -> None:
    adjuster = await user_login(client, runtime, Role.ADJUSTER)
    response = await client.get("/api/v1/quotes", headers=adjuster.headers)
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "auth.permission_missing"
    agent = await user_login(client, runtime, Role.AGENT)
    assert (await client.get("/api/v1/quotes", headers=agent.headers)).status_code == 200


async def test_a_client_without_the_read_scope_listing_policies_or_customers_is_refused(
    client: AsyncClient, runtime: Runtime
) -> None:
    admin = await user_login(client, runtime, Role.ADMIN)
    agent = await user_login(client, runtime, Role.AGENT)
    registered = await client.post(
        "/api/v1/api-clients",
        json={"name": "quote reader", "owner_id": str(agent.user_id), "scopes": ["quotes:read"]},
        headers=admin.headers,
    )
    assert registered.status_code == 201, registered.text
    token = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": registered.json()["id"],
            "client_secret": registered.json()["client_secret"],
        },
    )
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    for listing in ("/api/v1/policies", "/api/v1/customers"):
        refused = await client.get(listing, headers=bearer)
        assert refused.status_code == 403, (listing, refused.text)
        assert refused.json()["code"] == "auth.permission_missing"
    assert (await client.get("/api/v1/quotes", headers=bearer)).status_code == 200
    assert (await client.get("/api/v1/policies", headers=agent.headers)).status_code == 200


def test_a_page_policy_names_the_form_targets_it_is_given() -> None:
    from pd_prime_demo.api.security_headers import page_csp

    csp = page_csp("n0nce", form_targets=["https://client.example"])
    assert "form-action 'self' https://client.example;" in csp
    assert "style-src 'self' 'nonce-n0nce';" in csp
    assert "form-action 'self';" in page_csp()


async def test_an_adjuster_reading_a_quote_is_refused_not_told_it_is_missing(
    client: AsyncClient, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    customer = (await client.post("/api/v1/customers", json=person(), headers=agent.headers)).json()
    quote = await client.post(
        "/api/v1/quotes", json=auto_quote(customer["id"]), headers=agent.headers
    )
    url = f"/api/v1/quotes/{quote.json()['id']}"
    adjuster = await user_login(client, runtime, Role.ADJUSTER)
    for response in (
        await client.get(url, headers=adjuster.headers),
        await client.get(f"{url}/worksheet", headers=adjuster.headers),
        await client.patch(
            url, json={"submit": False}, headers={**adjuster.headers, "If-Match": "*"}
        ),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "auth.permission_missing"
    other = await user_login(client, runtime, Role.AGENT)
    assert (await client.get(url, headers=other.headers)).status_code == 404
