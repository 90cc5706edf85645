"""A limit on the size of request bodies, enforced before anything reads them.

A declared ``Content-Length`` above the limit is refused at once, without reading a byte; a
body without one (chunked) is counted as it streams in, and the request ends with the same
413 the moment it passes the limit, so a handler never parses (or buffers) more than the
limit. OWASP API4:2023 (unrestricted resource consumption).
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pd_prime_demo.api.response_patterns import problem_response

TOO_LARGE_CODE = "request.too_large"


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit: an HTTPException, so
    that FastAPI's body parsing lets it through to the 413 handler instead of calling it a
    malformed body."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _detail(limit), headers={"Connection": "close"})


def _detail(limit: int) -> str:
    return f"The request body is larger than the {limit} bytes this route accepts."


class BodySizeLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, by_path: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Longest prefix first, so that a nested prefix wins over its parent; a prefix may hold
        # ``*`` segments (an id in the path).
        self.by_path = sorted((by_path or {}).items(), key=lambda item: -len(item[0]))

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.by_path:
            if _under(path, prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(scope, receive, send, limit)
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge:
            # Read outside FastAPI's handlers (a plain Starlette route, a middleware).
            if started:
                raise
            await _refuse(scope, receive, send, limit)


def _under(path: str, prefix: str) -> bool:
    """``path`` is ``prefix`` or below it; a ``*`` segment of the prefix matches any one
    segment (``/api/v1/claims/*/attachments``: every claim's attachments)."""
    if "*" not in prefix:
        return path == prefix or path.startswith(prefix.rstrip("/") + "/")
    wanted = prefix.rstrip("/").split("/")
    segments = path.split("/")
    if len(segments) < len(wanted):
        return False
    return all(w in ("*", s) and (w != "*" or s) for w, s in zip(wanted, segments, strict=False))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem_response(
        status=413,
        code=TOO_LARGE_CODE,
        detail=_detail(limit),
        instance=scope["path"],
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)
