"""Result -> HTTP: the one place where an error kind becomes a status code.

Every error the API returns is RFC 9457 ``application/problem+json`` with a stable ``code``
and the request id, so that a support engineer can find the log lines of any failure.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, NoReturn, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from pd_prime_demo.core.logging import request_id_var
from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, Ok, Result

T = TypeVar("T")

PROBLEM_MEDIA_TYPE = "application/problem+json"

STATUS_BY_KIND: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.INVALID: 422,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.RATE_LIMITED: 429,
    ErrorKind.UNAVAILABLE: 503,
    ErrorKind.PRECONDITION_FAILED: 412,
    ErrorKind.PRECONDITION_REQUIRED: 428,
}


class ProblemFieldError(BaseModel):
    model_config = ConfigDict(frozen=True)

    pointer: str | None = Field(
        default=None, description="JSON Pointer (RFC 6901) into the request body, as '#/path'."
    )
    parameter: str | None = Field(default=None, description="Query or path parameter name.")
    header: str | None = Field(default=None, description="Request header name.")
    detail: str


class Problem(BaseModel):
    """RFC 9457 problem details, with PD Prime's extension members."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "example": {
                "type": "urn:pd-prime:problem:customer.not_found",
                "title": "Not Found",
                "status": 404,
                "detail": "customer not found",
                "instance": "/api/v1/customers/3f1c0a4e-8a52-4a0e-9a5e-1d9f0f3d2b10",
                "code": "customer.not_found",
                "request_id": "5b0e3c1f9d2a4b7e8c6d1a2b3c4d5e6f",
            }
        },
    )

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str
    request_id: str | None = None
    errors: list[ProblemFieldError] | None = None


class ProblemError(Exception):
    """Raised to end a request with a problem; the unit of work rolls back on the way out."""

    def __init__(self, error: DomainError, headers: dict[str, str] | None = None) -> None:
        super().__init__(error.code)
        self.error = error
        self.headers = headers or {}


def problem_body(
    *,
    status: int,
    code: str,
    detail: str,
    instance: str | None,
    errors: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:pd-prime:problem:{code}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        "code": code,
        "request_id": request_id_var.get(),
    }
    if errors:
        body["errors"] = errors
    if extra:
        body.update({k: v for k, v in extra.items() if k not in body})
    return body


def problem_response(
    *,
    status: int,
    code: str,
    detail: str,
    instance: str | None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    response_headers = dict(headers or {})
    if (request_id := request_id_var.get()) is not None:
        response_headers["X-Request-ID"] = request_id
    return JSONResponse(
        problem_body(
            status=status,
            code=code,
            detail=detail,
            instance=instance,
            errors=errors,
            extra=extra,
        ),
        status_code=status,
        headers=response_headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def domain_error_response(
    error: DomainError, *, instance: str | None, headers: dict[str, str] | None = None
) -> JSONResponse:
    status = STATUS_BY_KIND[error.kind]
    extra_headers = dict(headers or {})
    if error.kind is ErrorKind.UNAUTHENTICATED:
        extra_headers.setdefault("WWW-Authenticate", 'Bearer realm="pd-prime"')
    if error.kind is ErrorKind.RATE_LIMITED and "retry_after" in error.extra:
        extra_headers.setdefault("Retry-After", str(error.extra["retry_after"]))
    return problem_response(
        status=status,
        code=error.code,
        detail=error.detail,
        instance=instance,
        errors=[{"pointer": e.pointer, "detail": e.detail} for e in error.errors] or None,
        headers=extra_headers,
        extra=error.extra,
    )


def handle_result(result: Result[T, DomainError], headers: dict[str, str] | None = None) -> T:
    """The Ok value, or raise so the request ends in a problem and its transaction rolls back."""
    match result:
        case Ok(value):
            return value
        case Err(error):
            raise ProblemError(error, headers)
    raise AssertionError("unreachable")  # pragma: no cover


def fail(error: DomainError, headers: dict[str, str] | None = None) -> NoReturn:
    raise ProblemError(error, headers)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries declaring problem+json for each status."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def problem_openapi_schemas() -> dict[str, Any]:
    """Component schemas referenced by :func:`problem_responses`."""
    schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {"Problem": schema, **defs}
