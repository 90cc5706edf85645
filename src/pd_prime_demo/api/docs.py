"""``/docs`` (Swagger UI) and ``/redoc``, served offline from vendored assets under a CSP.

FastAPI's own pages load their scripts from a CDN and start Swagger UI with an inline script,
so offline they are blank, and a CSP without ``'unsafe-inline'`` would block them anyway.
These pages reference only the platform's own files (``static/``, see its README for the
versions and licences); the initialisers are separate scripts, and the styles Redoc writes at
run time carry a nonce drawn for each response.
"""

from __future__ import annotations

import secrets
from html import escape
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

from pd_prime_demo.api.security_headers import page_csp

STATIC_DIR = Path(__file__).parent / "static"
ASSETS = "/docs/assets"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"

router = APIRouter(include_in_schema=False)


def static_files() -> StaticFiles:
    """The vendored assets, mounted at :data:`ASSETS`."""
    return StaticFiles(directory=STATIC_DIR)


def _page(
    title: str, *, body: str, scripts: list[str], styles: list[str], csp: str, opener: str
) -> HTMLResponse:
    links = "".join(f'<link rel="stylesheet" href="{ASSETS}/{href}">' for href in styles)
    tags = "".join(f'<script src="{ASSETS}/{src}"></script>' for src in scripts)
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<link rel="icon" type="image/png" href="{ASSETS}/swagger-ui/favicon-32x32.png">'
        f"{links}</head><body>{body}{tags}</body></html>"
    )
    headers = {
        "Content-Security-Policy": csp,
        "Cross-Origin-Opener-Policy": opener,
        # The page itself may change with each release; its assets are cached by their ETag.
        "Cache-Control": "no-cache",
    }
    return HTMLResponse(html, headers=headers)


@router.get(DOCS_URL)
async def swagger_ui() -> HTMLResponse:
    body = (
        f'<div id="swagger-ui" data-openapi-url="/openapi.json" '
        f'data-oauth2-redirect-url="{OAUTH2_REDIRECT_URL}"></div>'
    )
    return _page(
        "PD Prime API - Swagger UI",
        body=body,
        scripts=["swagger-ui/swagger-ui-bundle.js", "docs/swagger-init.js"],
        styles=["swagger-ui/swagger-ui.css", "docs/docs.css"],
        csp=page_csp(),
        # "Authorize" with an OAuth flow opens a popup that reports back to this page.
        opener="same-origin-allow-popups",
    )


@router.get(OAUTH2_REDIRECT_URL)
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return _page(
        "PD Prime API - signing in",
        body="",
        scripts=["swagger-ui/oauth2-redirect.js"],
        styles=[],
        csp=page_csp(),
        # The page hands the authorization response to window.opener (the /docs page), which
        # an isolating opener policy would cut off after the provider's pages.
        opener="unsafe-none",
    )


@router.get(REDOC_URL)
async def redoc() -> HTMLResponse:
    nonce = secrets.token_urlsafe(18)
    body = (
        f'<div id="redoc-container" data-openapi-url="/openapi.json" '
        f'data-nonce="{escape(nonce)}"></div>'
    )
    return _page(
        "PD Prime API - ReDoc",
        body=body,
        scripts=["redoc/redoc.standalone.js", "docs/redoc-init.js"],
        styles=["docs/docs.css"],
        # Redoc builds its search index in a worker started from a blob: of its own code.
        csp=page_csp(nonce, workers=True),
        opener="same-origin",
    )
