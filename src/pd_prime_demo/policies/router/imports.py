"""Converting a book through the API (administrators only): a JSON list of policies or a CSV
file, up to a size one request can carry; larger books go through ``pd-prime policies import``.

The body is read here, not by FastAPI's validation: a policy with a problem is refused and
reported with its pointer while the others load, so one bad line never fails the whole file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, HTTPException, Query, Request

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.response_patterns import fail, handle_result, problem_responses
from pd_prime_demo.core.result_types import DomainError, ErrorKind, FieldIssue, invalid
from pd_prime_demo.identity.dependencies import CurrentActor
from pd_prime_demo.policies import service

router = APIRouter(prefix=API_V1, tags=["policies"])

MAX_BYTES = 10 * 1024 * 1024  # 10 MiB: a few thousand policies with their histories
MAX_POLICIES = 2_000
JSON, CSV = "application/json", "text/csv"


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` references written in place (they do not nest in a
    loop), so it stands alone in the request body's description."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_BODY = {
    "requestBody": {
        "required": True,
        "description": "The book: a JSON list of policies, or CSV with one line per transaction "
        f"(docs/book-import.md). At most {MAX_POLICIES} policies and {MAX_BYTES // 2**20} MiB.",
        "content": {
            JSON: {
                "schema": {
                    "type": "array",
                    "items": _inlined(service.BookPolicy.model_json_schema()),
                }
            },
            CSV: {"schema": {"type": "string"}},
        },
    }
}


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BYTES:
        _fail_too_large()
    body = bytearray()
    async for block in request.stream():
        body += block
        if len(body) > MAX_BYTES:
            _fail_too_large()
    return bytes(body)


def _fail_too_large() -> NoReturn:
    raise HTTPException(
        413,
        f"a request carries at most {MAX_BYTES // 2**20} MiB of book: "
        "use `pd-prime policies import FILE` for a larger one",
    )


def _policies(request: Request, body: bytes) -> list[service.ReadPolicy]:
    media = request.headers.get("content-type", JSON).split(";")[0].strip().lower()
    if media not in (JSON, CSV):
        raise HTTPException(415, f"send the book as {JSON} or {CSV}")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        fail(
            invalid(
                "import.unreadable", "the book must be UTF-8 text", FieldIssue("#", "not UTF-8")
            )
        )
    stream = io.StringIO(text)
    reader: Iterator[service.ReadPolicy] = (
        service.read_csv(stream) if media == CSV else service.read_json(stream)
    )
    found: list[service.ReadPolicy] = []
    try:
        for item in reader:
            found.append(item)
            if len(found) > MAX_POLICIES:
                _fail_too_many()
    except service.UnreadableBookError as error:
        fail(invalid("import.unreadable", error.detail, FieldIssue(error.pointer, error.detail)))
    return found


def _fail_too_many() -> NoReturn:
    raise HTTPException(
        413,
        f"a request carries at most {MAX_POLICIES} policies: "
        "use `pd-prime policies import FILE` for a larger book",
    )


@router.post(
    "/policies/imports",
    response_model=service.ImportResult,
    responses=problem_responses(401, 403, 413, 415, 422),
    openapi_extra=_BODY,
    summary="Convert a book from another system (administrators): policies with their history",
)
async def import_policies(
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    actor: CurrentActor,
    dry_run: Annotated[
        bool, Query(description="Check everything and load nothing: the answer says what would.")
    ] = False,
) -> service.ImportResult:
    """Each policy is loaded whole or refused with every problem (its number, row and a JSON
    Pointer to the field); a policy whose number is loaded already is reported as such, so
    sending the same file again loads nothing twice. 422 when nothing could be loaded."""
    book = handle_result(service.start_import(actor, cipher=runtime.cipher, dry_run=dry_run))
    policies = _policies(request, await _body(request))
    await book.load(session, policies)
    result = book.result()
    if result.problems and not result.loaded and not result.already_loaded:
        fail(
            DomainError(
                ErrorKind.INVALID,
                "import.nothing_loaded",
                f"none of the {result.counts.policies} policies could be loaded; see errors",
                errors=tuple(
                    FieldIssue(p.pointer, f"{p.number or 'policy'} (row {p.row}): {p.detail}")
                    for p in result.problems
                ),
                extra={
                    "counts": result.counts.model_dump(),
                    "problems": [p.model_dump() for p in result.problems],
                },
            )
        )
    return result
