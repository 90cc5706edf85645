"""ETag / If-Match (RFC 9110 section 13) for optimistic concurrency on updates."""

from __future__ import annotations

from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, Ok, Result

ANY = -1


def etag_for(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None) -> Result[int | None, DomainError]:
    """The version an ``If-Match`` header allows; None for ``*``.

    A missing header is refused (428): a blind overwrite of someone else's change is the bug
    this header exists to prevent. Weak tags never match (If-Match uses strong comparison).
    """
    if if_match is None or not if_match.strip():
        return Err(
            DomainError(
                ErrorKind.PRECONDITION_REQUIRED,
                "request.if_match_required",
                "send If-Match with the ETag from your last read",
            )
        )
    if if_match.strip() == "*":
        return Ok(None)
    for candidate in (part.strip() for part in if_match.split(",")):
        if candidate.startswith('"') and candidate.endswith('"') and candidate[1:-1].isdigit():
            return Ok(int(candidate[1:-1]))
    return Err(
        DomainError(
            ErrorKind.PRECONDITION_FAILED,
            "request.if_match_failed",
            "If-Match does not name a current representation",
        )
    )
