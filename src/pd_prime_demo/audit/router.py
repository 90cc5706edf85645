"""Audit trail: read entries and verify the hash chain (auditors and admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.audit import service
from pd_prime_demo.audit.schemas import (
    AuditEntryRead,
    AuditPage,
    ChainVerification,
    CheckpointAnchorRead,
    CheckpointPage,
    CheckpointRead,
)
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.identity.dependencies import require

router = APIRouter(prefix=f"{API_V1}/audit", tags=["audit"])

AuditReader = Annotated[Actor, Depends(require(Permission.AUDIT_READ))]


@router.get(
    "/entries",
    response_model=AuditPage,
    responses=problem_responses(401, 403, 422),
    summary="Audit entries, newest first",
)
async def list_audit_entries(
    session: Session,
    _: AuditReader,
    resource_type: Annotated[str | None, Query(max_length=50)] = None,
    resource_id: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    rows, next_cursor = handle_result(
        await service.list_entries(
            session,
            resource_type=resource_type,
            resource_id=resource_id,
            cursor=cursor,
            limit=limit,
        )
    )
    return AuditPage(
        items=[AuditEntryRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.post(
    "/verification",
    response_model=ChainVerification,
    responses=problem_responses(401, 403),
    summary="Recompute the hash chain and check it against every signed checkpoint",
    description=(
        "Names the first entry that does not fit the chain, the range of entries a checkpoint "
        "recorded that are gone, or where content was rewritten with every later hash "
        "recomputed (between two anchors). Entries after the newest checkpoint are verified "
        "as a chain only (`entries_after_checkpoint`). Incremental: only the entries appended "
        "since the last verification are walked (`entries_walked`, `walked_after_id`); the "
        "ones before it are checked by count, head hash and anchors, and re-walked by the "
        "integrity job's weekly full run and `pd-prime audit verify --full`."
    ),
)
async def verify_audit_chain(
    session: Session, runtime: RuntimeDep, _: AuditReader
) -> ChainVerification:
    # From the verified marker on, never a deliberate full walk on a request (40 million
    # entries take minutes): the integrity job's weekly run and the CLI's --full do those. Only
    # a first verification, with no marker yet, walks everything.
    report = await service.verify_chain(session, settings=runtime.settings, mode="incremental")
    return ChainVerification(
        ok=report.ok,
        entries_checked=report.entries_checked,
        first_bad_id=report.first_bad_id,
        reason=report.reason,
        checkpoints_checked=report.checkpoints_checked,
        latest_checkpoint=report.latest_checkpoint,
        entries_after_checkpoint=report.entries_after_checkpoint,
        missing_from_id=report.missing_from_id,
        missing_through_id=report.missing_through_id,
        missing_count=report.missing_count,
        rewritten_after_id=report.rewritten_after_id,
        rewritten_through_id=report.rewritten_through_id,
        checkpoint_problem=report.checkpoint_problem,
        warning=report.warning,
        mode=report.mode,
        entries_walked=report.entries_walked,
        walked_after_id=report.walked_after_id,
        previously_verified_at=report.previously_verified_at,
        marker_problem=report.marker_problem,
    )


@router.get(
    "/checkpoints",
    response_model=CheckpointPage,
    responses=problem_responses(401, 403, 422),
    summary="Signed checkpoints of the audit chain, newest first",
)
async def list_audit_checkpoints(
    runtime: RuntimeDep,
    _: AuditReader,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CheckpointPage:
    listing = handle_result(service.list_checkpoints(runtime.settings, cursor=cursor, limit=limit))
    return CheckpointPage(
        items=[
            CheckpointRead(
                sequence=c.sequence,
                kind=c.kind,
                created_at=c.created_at,
                head=CheckpointAnchorRead(id=c.head.id, hash=c.head.hash, n=c.head.n),
                entries=c.entries,
                anchors=len(c.anchors),
                purged_through_id=c.purged.through_id if c.purged else None,
                purged_count=c.purged.count if c.purged else None,
                key_id=c.key_id,
            )
            for c in listing.items
        ],
        next_cursor=listing.next_cursor,
        problem=listing.problem,
    )
