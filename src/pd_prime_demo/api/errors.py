"""Exception handlers: every failure the API can produce becomes RFC 9457 problem+json."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pd_prime_demo.api.response_patterns import (
    ProblemError,
    domain_error_response,
    problem_response,
)

log = structlog.get_logger(__name__)

_HTTP_CODES = {
    400: "http.bad_request",
    401: "auth.unauthenticated",
    403: "auth.forbidden",
    404: "http.not_found",
    405: "http.method_not_allowed",
    406: "http.not_acceptable",
    413: "request.too_large",
    415: "http.unsupported_media_type",
}


def _validation_issue(error: dict[str, Any]) -> dict[str, str]:
    """Locate one validation error; its input value is never echoed (it may be PII)."""
    loc = [str(part) for part in error.get("loc", ())]
    where, path = (loc[0], loc[1:]) if loc else ("body", [])
    detail = str(error.get("msg", "invalid value"))
    if where == "body":
        escaped = [p.replace("~", "~0").replace("/", "~1") for p in path]
        return {"pointer": "#/" + "/".join(escaped) if escaped else "#", "detail": detail}
    if where == "header":
        return {"header": path[0] if path else "", "detail": detail}
    return {"parameter": ".".join(path), "detail": detail}


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        status=422,
        code="request.invalid",
        detail="The request does not match the schema; see errors.",
        instance=request.url.path,
        errors=[_validation_issue(e) for e in exc.errors()],
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http.{exc.status_code}")
    detail = exc.detail if isinstance(exc.detail, str) else "request failed"
    return problem_response(
        status=exc.status_code,
        code=code,
        detail=detail,
        instance=request.url.path,
        headers=dict(exc.headers or {}),
    )


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return domain_error_response(exc.error, instance=request.url.path, headers=exc.headers)


# SQLSTATEs of values PostgreSQL cannot store as given: text with NUL (U+0000), which neither
# text columns (22021) nor jsonb (22P05) accept, a text longer than its column (22001), a
# number or date beyond its type's range (22003, 22008). Request values are their only source
# short of a bug, so they answer 422; the SQLSTATE is logged, so a bug would still show.
_UNSTORABLE_VALUE = {
    "22021": "text contains a character that cannot be stored (such as NUL, U+0000)",
    "22P05": "text contains a character that cannot be stored (such as NUL, U+0000)",
    "22001": "a text is longer than the field allows",
    "22003": "a number is out of range",
    "22008": "a date or time is out of range",
}


# SQLSTATEs that say the database cannot serve right now, not that the request is wrong: it is
# starting up, shutting down or recovering (57P01-57P03), out of connections (53300), the
# connection failed (class 08), or the transaction lost a race it may win on a retry
# (serialisation failure 40001, deadlock 40P01). Nothing was applied: 503, retry.
_UNAVAILABLE = frozenset({"57P01", "57P02", "57P03", "53300", "40001", "40P01"})


def _unavailable(sqlstate: str | None) -> bool:
    return sqlstate is not None and (sqlstate in _UNAVAILABLE or sqlstate.startswith("08"))


async def _on_database(request: Request, exc: Exception) -> JSONResponse:
    """A lost or refused database connection is the server's trouble and worth a retry.

    The engine does not ping connections on checkout (a round trip per request); instead a
    connection found dead invalidates the pool, and this one request answers 503. A database
    that refuses connections (down, restarting, still starting up: SQLSTATE 57P03) or a
    transaction that lost a race worth retrying answers 503 too. Nothing was acknowledged, so
    nothing is lost. A value the database cannot store answers 422 (the transaction rolled
    back: nothing changed). Any other database error is a bug: 500.
    """
    sqlstate = getattr(getattr(exc, "orig", exc), "sqlstate", None)
    if (
        isinstance(exc, DBAPIError)
        and not exc.connection_invalidated
        and not _unavailable(sqlstate)
    ):
        if (reason := _UNSTORABLE_VALUE.get(str(sqlstate))) is not None:
            log.warning("request.unstorable_value", path=request.url.path, sqlstate=sqlstate)
            return problem_response(
                status=422,
                code="request.unstorable_value",
                detail=f"The request was not applied: {reason}.",
                instance=request.url.path,
            )
        return await _on_unhandled(request, exc)
    log.warning(
        "database.unavailable",
        path=request.url.path,
        error_type=type(exc).__name__,
        sqlstate=sqlstate,
    )
    return problem_response(
        status=503,
        code="service.database_unavailable",
        detail="The database could not be reached; the request was not applied. Retry it.",
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )


async def _on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request.unhandled_error", path=request.url.path, error_type=type(exc).__name__)
    return problem_response(
        status=500,
        code="internal.error",
        detail="An internal error occurred. Quote the request id when reporting it.",
        instance=request.url.path,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(DBAPIError, _on_database)
    # Raised by the driver when no connection can be opened at all (asyncpg: OSError family).
    app.add_exception_handler(ConnectionError, _on_database)
    app.add_exception_handler(Exception, _on_unhandled)
