"""Security headers on every response, and the demo header (docs/security.md).

A pure ASGI middleware placed outside Starlette's ServerErrorMiddleware (see
``main.PDPrimeApp``), so that even the 500 problem the error handler writes carries them.
Each header is added only when the response has not set its own: the docs pages send a CSP
with a nonce of their own, and an HTML page (the OAuth login, say) may do the same through
:func:`page_csp`.

The API's defaults follow the OWASP REST Security and Secure Headers projects: a JSON answer
needs no script, style, frame or plugin, so ``default-src 'none'``; nothing may frame it; no
referrer leaves; the browser never sniffs a type other than the one declared.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pd_prime_demo.core.config import Settings

# No form-action: it does not fall back to default-src, and a server-rendered page without a
# policy of its own (the OAuth consent form, which posts to the platform and is redirected on
# to the client) must still submit.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

# Browser features no response of the platform uses. WebAuthn (publickey-credentials-*) is
# deliberately absent: its default ('self') lets the platform's own pages use passkeys.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
)


def page_csp(
    nonce: str | None = None, *, workers: bool = False, form_targets: Sequence[str] = ()
) -> str:
    """The CSP of an HTML page of the platform: scripts and styles only from its own origin
    (plus the elements carrying ``nonce``), no inline code, no eval, no plugins, no framing.

    ``workers`` lets the page start a Web Worker from a ``blob:`` URL it built from its own
    script (Redoc's search index does). Forms post to the platform only, and to the origins
    in ``form_targets``: browsers apply form-action to the redirects that follow a post too
    (an OAuth consent form redirected to the client's redirect URI)."""
    styles = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    forms = " ".join(["'self'", *form_targets])
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        f"style-src {styles}",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "manifest-src 'self'",
        f"form-action {forms}",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ]
    if workers:
        directives.append("worker-src 'self' blob:")
    return "; ".join(directives)


def _hsts(settings: Settings) -> str:
    value = f"max-age={settings.hsts_max_age_seconds}"
    if settings.hsts_include_subdomains:
        value += "; includeSubDomains"
    if settings.hsts_preload:
        value += "; preload"
    return value


def default_headers(settings: Settings) -> list[tuple[bytes, bytes]]:
    """The headers every response gets unless it set its own."""
    headers = {
        "strict-transport-security": _hsts(settings),
        "content-security-policy": API_CSP,
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
        "cross-origin-opener-policy": "same-origin",
        "cross-origin-resource-policy": "same-origin",
        "permissions-policy": PERMISSIONS_POLICY,
    }
    if settings.is_demo:
        # Anyone looking at a response can tell a showcase from a live system.
        headers["x-pd-prime-demo"] = "true"
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.headers = default_headers(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in self.headers if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
