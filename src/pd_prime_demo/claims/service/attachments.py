"""A claim's photos and documents: stored in the database with their SHA-256, their type
read from their own bytes (``claims.sniff``) and checked against ``claim_attachment_types``;
a file that says it is one type and is another is refused, as is one over
``claim_attachment_max_bytes``. Whoever may not see the claim gets 404 for it and for its
attachments alike."""

from __future__ import annotations

import hashlib
import uuid

from beartype import beartype
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims.models import ClaimAttachment
from pd_prime_demo.claims.repository import claims as repository
from pd_prime_demo.claims.service.common import get_claim
from pd_prime_demo.claims.service.fnol import filing_view
from pd_prime_demo.claims.sniff import sniff
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    ErrorKind,
    FieldIssue,
    Ok,
    Result,
    conflict,
    not_found,
)

ATTACHMENT_NOT_FOUND = not_found("claim_attachment")
# Statuses beyond the kinds' own: the router answers these codes with 413 and 415.
TOO_LARGE = "claim.attachment_too_large"
TYPE_REFUSED = "claim.attachment_type_refused"


def _problem(code: str, detail: str, pointer: str, issue: str) -> DomainError:
    return DomainError(ErrorKind.INVALID, code, detail, errors=(FieldIssue(pointer, issue),))


def _safe_name(filename: str | None) -> str:
    """The file's own name, without a path or control characters (it goes back out in a
    Content-Disposition header)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"')
    return name.strip()[:200] or "attachment"


@beartype
async def add_attachment(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    content: bytes,
    filename: str | None,
    declared_type: str | None,
    description: str,
    actor: Actor,
    settings: Settings,
) -> Result[ClaimAttachment, DomainError]:
    """Attach a file: whoever may file a claim on the policy (the policyholder, their agent,
    claims staff, an API client or key given ``claims:file``, with its owner's reach as
    ``fnol.filing_view`` gives it, read scopes or not) may add photos and documents to it.
    The claim's row is locked first, so concurrent uploads cannot together pass the cap on
    attachments per claim."""
    match await get_claim(
        session,
        claim_id,
        actor=filing_view(actor),
        permission=Permission.CLAIMS_FILE,
        for_update=True,
    ):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    if len(content) > settings.claim_attachment_max_bytes:
        return Err(
            _problem(
                TOO_LARGE,
                f"an attachment may be at most {settings.claim_attachment_max_bytes} bytes",
                "#/file",
                f"{len(content)} bytes",
            )
        )
    if not content:
        return Err(_problem("claim.attachment_empty", "the file is empty", "#/file", "0 bytes"))
    media_type = sniff(content)
    accepted = settings.claim_attachment_types
    if media_type is None or media_type not in accepted:
        return Err(
            _problem(
                TYPE_REFUSED,
                "the file's content is not one of the accepted types: " + ", ".join(accepted),
                "#/file",
                "content not recognised" if media_type is None else f"content is {media_type}",
            )
        )
    declared = (declared_type or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream" and declared != media_type:
        return Err(
            _problem(
                TYPE_REFUSED,
                f"the file says it is {declared} but its content is {media_type}",
                "#/file",
                "the declared content type does not match the content",
            )
        )
    if await repository.attachment_count(session, claim.id) >= settings.claim_attachments_per_claim:
        return Err(
            conflict(
                "claim.attachments_full",
                f"a claim holds at most {settings.claim_attachments_per_claim} attachments",
            )
        )
    row = ClaimAttachment(
        id=uuid.uuid4(),
        claim_id=claim.id,
        filename=_safe_name(filename),
        media_type=media_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        description=description,
        uploaded_by=actor.id,
        uploaded_at=clock.now(),
    )
    session.add(row)
    await audit.record(
        session,
        actor,
        "claim.attachment_added",
        "claim",
        str(claim.id),
        {"attachment_id": str(row.id), "media_type": media_type, "size": row.size},
    )
    await session.flush()
    return Ok(row)


async def list_attachments(
    session: AsyncSession, claim_id: uuid.UUID, *, actor: Actor, cursor: str | None, limit: int
) -> Result[tuple[list[ClaimAttachment], str | None], DomainError]:
    match await get_claim(session, claim_id, actor=actor):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    return await repository.attachments_page(session, claim.id, cursor=cursor, limit=limit)


async def get_attachment(
    session: AsyncSession, claim_id: uuid.UUID, attachment_id: uuid.UUID, *, actor: Actor
) -> Result[ClaimAttachment, DomainError]:
    """The attachment with its content, if ``actor`` may see the claim (404 otherwise)."""
    match await get_claim(session, claim_id, actor=actor):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    row = await repository.attachment(session, claim.id, attachment_id, content=True)
    return Ok(row) if row is not None else Err(ATTACHMENT_NOT_FOUND)
