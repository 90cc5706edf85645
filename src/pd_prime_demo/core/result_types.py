"""Ok / Err / Result and the DomainError hierarchy.

Services return ``Result[T, DomainError]`` for every expected business outcome; exceptions are
reserved for infrastructure faults and bugs. A DomainError carries a ``kind`` (which decides the
HTTP status in exactly one place, :mod:`pd_prime_demo.api.response_patterns`) and a stable
dotted ``code`` that clients may branch on.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Generic, TypeAlias, TypeVar

T = TypeVar("T")
E = TypeVar("E")
# Covariant: an Ok[Policy] is an Ok[Policy | Quote], so a use case returning a narrower result
# passes for one declared wider without re-wrapping it.
T_co = TypeVar("T_co", covariant=True)
E_co = TypeVar("E_co", covariant=True)


@dataclass(frozen=True, slots=True)
class Ok(Generic[T_co]):
    value: T_co


@dataclass(frozen=True, slots=True)
class Err(Generic[E_co]):
    error: E_co


Result: TypeAlias = Ok[T] | Err[E]


class ErrorKind(enum.Enum):
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID = "invalid"
    FORBIDDEN = "forbidden"
    UNAUTHENTICATED = "unauthenticated"
    RATE_LIMITED = "rate_limited"
    UNAVAILABLE = "unavailable"
    PRECONDITION_FAILED = "precondition_failed"
    PRECONDITION_REQUIRED = "precondition_required"


@dataclass(frozen=True, slots=True)
class FieldIssue:
    """One problem with one input field; ``pointer`` is a JSON Pointer into the request body."""

    pointer: str
    detail: str


@dataclass(frozen=True, slots=True)
class DomainError:
    kind: ErrorKind
    code: str
    detail: str
    errors: tuple[FieldIssue, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def not_found(resource: str, code: str | None = None) -> DomainError:
    return DomainError(
        ErrorKind.NOT_FOUND, code or f"{resource}.not_found", f"{resource} not found"
    )


def stale_version(resource: str) -> DomainError:
    """If-Match named a version the resource has moved past (412)."""
    return DomainError(
        ErrorKind.PRECONDITION_FAILED,
        f"{resource}.version_mismatch",
        f"the {resource} changed since you read it; read it again and retry",
    )


def conflict(code: str, detail: str) -> DomainError:
    return DomainError(ErrorKind.CONFLICT, code, detail)


def invalid(code: str, detail: str, *errors: FieldIssue) -> DomainError:
    return DomainError(ErrorKind.INVALID, code, detail, errors=tuple(errors))


def forbidden(code: str, detail: str) -> DomainError:
    return DomainError(ErrorKind.FORBIDDEN, code, detail)


def unauthenticated(code: str, detail: str) -> DomainError:
    return DomainError(ErrorKind.UNAUTHENTICATED, code, detail)
