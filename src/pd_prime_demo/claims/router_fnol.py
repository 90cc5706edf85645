"""Claims routes. First notice of loss: filing a claim, its parties, vehicles or property,
attachments, the coverage check and fraud indicators.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.http_conditions import etag_for
from pd_prime_demo.api.idempotency import IdempotencyKey, IdempotentCreate
from pd_prime_demo.api.response_patterns import (
    domain_error_response,
    handle_result,
    problem_response,
    problem_responses,
)
from pd_prime_demo.claims.models import ClaimAttachment
from pd_prime_demo.claims.schemas_fnol import (
    AttachmentPage,
    AttachmentRead,
    ClaimCreate,
    ClaimFiled,
)
from pd_prime_demo.claims.service import attachments, fnol, fnol_read
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.result_types import Err, Ok
from pd_prime_demo.identity.dependencies import CurrentActor, require

router = APIRouter(prefix=API_V1, tags=["claims"])

Cursor = Annotated[str | None, Query(max_length=200, description="From `next_cursor`.")]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.post(
    "/claims",
    response_model=ClaimFiled,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    summary="First notice of loss: record a claim, check cover on the loss date, number it",
    description=(
        "The policyholder on their own policy, their agent, claims staff or an API client with "
        "claims:file. Cover is checked against the policy as it stood on the loss date (its "
        "history, as known now): a claim whose cover is in doubt is recorded all the same, "
        "with `coverage_status=flagged` and the findings. A policy you may not see is 404."
    ),
)
async def file_claim(
    body: ClaimCreate,
    request: Request,
    response: Response,
    session: Session,
    runtime: RuntimeDep,
    actor: Annotated[Actor, Depends(require(Permission.CLAIMS_FILE))],
    idempotency_key: IdempotencyKey = None,
) -> ClaimFiled:
    idem = IdempotentCreate.of(request, body, idempotency_key, actor, runtime.cipher)
    if (previous_id := await idem.previous(session)) is not None:
        claim = handle_result(await fnol.filed_claim(session, uuid.UUID(previous_id), actor=actor))
        response.headers["Idempotent-Replayed"] = "true"
    else:
        claim = handle_result(
            await fnol.file_claim(
                session, body, actor=actor, cipher=runtime.cipher, settings=runtime.settings
            )
        )
        idem.remember(session, str(claim.id))
    response.headers["Location"] = f"{API_V1}/claims/{claim.id}"
    response.headers["ETag"] = etag_for(claim.version)
    return await fnol_read.present_filed(session, claim, actor=actor, cipher=runtime.cipher)


def _attachment_read(row: ClaimAttachment) -> AttachmentRead:
    return AttachmentRead(
        id=row.id,
        claim_id=row.claim_id,
        filename=row.filename,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        description=row.description,
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
    )


_STATUS_BY_CODE = {attachments.TOO_LARGE: 413, attachments.TYPE_REFUSED: 415}


@router.post(
    "/claims/{claim_id}/attachments",
    response_model=AttachmentRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 409, 413, 415, 422),
    summary="Attach a photo or document to a claim (multipart/form-data)",
    description=(
        "The type is read from the file's bytes (JPEG, PNG, WebP, HEIC, PDF by default): a "
        "file whose content is another type, or not the type it declares, is refused with "
        "415; one above the size limit with 413. Stored with its SHA-256."
    ),
)
async def add_attachment(
    claim_id: uuid.UUID,
    session: Session,
    runtime: RuntimeDep,
    actor: CurrentActor,
    file: Annotated[UploadFile, File(description="The photo or document.")],
    description: Annotated[str, Form(max_length=2000)] = "",
) -> AttachmentRead | JSONResponse:
    limit = runtime.settings.claim_attachment_max_bytes
    # One byte past the limit tells an oversized file without reading all of it again.
    content = await file.read(limit + 1)
    result = await attachments.add_attachment(
        session,
        claim_id,
        content=content,
        filename=file.filename,
        declared_type=file.content_type,
        description=description,
        actor=actor,
        settings=runtime.settings,
    )
    match result:
        case Err(error) if error.code in _STATUS_BY_CODE:
            # Nothing was written: the claim was only read.
            return problem_response(
                status=_STATUS_BY_CODE[error.code],
                code=error.code,
                detail=error.detail,
                instance=f"{API_V1}/claims/{claim_id}/attachments",
                errors=[{"pointer": e.pointer, "detail": e.detail} for e in error.errors],
            )
        case Err(error):
            return domain_error_response(error, instance=f"{API_V1}/claims/{claim_id}/attachments")
        case Ok(row):
            return _attachment_read(row)
    raise AssertionError("unreachable")  # pragma: no cover


@router.get(
    "/claims/{claim_id}/attachments",
    response_model=AttachmentPage,
    responses=problem_responses(401, 403, 404, 422),
    summary="List a claim's attachments, oldest first",
)
async def list_attachments(
    claim_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> AttachmentPage:
    rows, next_cursor = handle_result(
        await attachments.list_attachments(
            session, claim_id, actor=actor, cursor=cursor, limit=limit
        )
    )
    return AttachmentPage(items=[_attachment_read(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/claims/{claim_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The file, with the type read from its bytes.",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf")
            },
        },
        **problem_responses(401, 403, 404),
    },
    summary="Download an attachment",
)
async def download_attachment(
    claim_id: uuid.UUID, attachment_id: uuid.UUID, session: Session, actor: CurrentActor
) -> Response:
    row = handle_result(
        await attachments.get_attachment(session, claim_id, attachment_id, actor=actor)
    )
    ascii_name = row.filename.encode("ascii", "replace").decode().replace("?", "_")
    return Response(
        content=row.content,
        media_type=row.media_type,
        headers={
            # RFC 6266: an ASCII fallback and the exact name (RFC 8187) for the browser.
            "Content-Disposition": (
                f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.filename)}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
