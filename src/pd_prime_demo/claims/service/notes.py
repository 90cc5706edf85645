"""Notes on a claim: internal ones for the company's claims staff, shared ones the
policyholder (and their agent) read too. Notes are append-only: a correction is a new note."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims.models import ClaimNote
from pd_prime_demo.claims.repository import workflow as repository
from pd_prime_demo.claims.service.common import get_claim
from pd_prime_demo.claims.service.read import is_staff
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result


async def add_note(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    body: str,
    internal: bool,
    actor: Actor,
) -> Result[ClaimNote, DomainError]:
    match await get_claim(session, claim_id, actor=actor, permission=Permission.CLAIMS_ADJUST):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    note = ClaimNote(
        id=uuid.uuid4(),
        claim_id=claim.id,
        body=body,
        internal=internal,
        author_id=actor.id,
        created_at=clock.now(),
    )
    repository.add(session, note)
    await audit.record(
        session,
        actor,
        "claim.note_added",
        "claim",
        str(claim.id),
        {"note_id": str(note.id), "internal": internal},
    )
    await session.flush()
    return Ok(note)


async def list_notes(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    actor: Actor,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[ClaimNote], str | None], DomainError]:
    """Oldest first; the policyholder's view has only the shared notes."""
    match await get_claim(session, claim_id, actor=actor):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    query = repository.notes_query(claim.id, include_internal=is_staff(actor))
    return await keyset_page(session, query, ClaimNote, cursor=cursor, limit=limit)
