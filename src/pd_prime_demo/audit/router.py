"""Audit trail: read entries and verify the hash chain (auditors and admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import Session
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.audit import service
from pd_prime_demo.audit.schemas import AuditEntryRead, AuditPage, ChainVerification
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
    summary="Recompute the hash chain and name the first entry that does not fit",
)
async def verify_audit_chain(session: Session, _: AuditReader) -> ChainVerification:
    report = await service.verify_chain(session)
    return ChainVerification(
        ok=report.ok,
        entries_checked=report.entries_checked,
        first_bad_id=report.first_bad_id,
        reason=report.reason,
    )
