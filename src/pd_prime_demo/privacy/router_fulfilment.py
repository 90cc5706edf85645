"""Privacy routes: legal holds and the retention schedule (``privacy:manage``); see
``privacy.router``. Holds are placed and released, never deleted."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.identity.dependencies import require
from pd_prime_demo.privacy.retention_models import LegalHold
from pd_prime_demo.privacy.schemas_fulfilment import (
    HoldCreate,
    HoldPage,
    HoldRead,
    HoldRelease,
    RetentionPeriodRead,
    RetentionRunPage,
    RetentionRunRead,
    RetentionScheduleRead,
)
from pd_prime_demo.privacy.service import holds, retention

router = APIRouter(prefix=f"{API_V1}/privacy", tags=["privacy"])

Manager = Annotated[Actor, Depends(require(Permission.PRIVACY_MANAGE))]
Cursor = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=200)]


def _hold(hold: LegalHold) -> HoldRead:
    return HoldRead.model_validate(
        {
            **{c: getattr(hold, c) for c in HoldRead.model_fields if c != "active"},
            "active": hold.released_at is None,
        }
    )


@router.post(
    "/holds",
    response_model=HoldRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    summary="Place a legal hold on a customer, policy or claim (blocks erasure and purges)",
)
async def place_hold(
    body: HoldCreate, session: Session, actor: Manager, response: Response
) -> HoldRead:
    hold = handle_result(
        await holds.place(
            session,
            holds.HoldRequest(body.scope, body.subject_id, body.reason, body.matter_reference),
            actor=actor,
        )
    )
    response.headers["Location"] = f"{API_V1}/privacy/holds/{hold.id}"
    return _hold(hold)


@router.get(
    "/holds",
    response_model=HoldPage,
    responses=problem_responses(401, 403, 422),
    summary="List legal holds, newest first",
)
async def list_holds(
    session: Session,
    _: Manager,
    active: Annotated[bool, Query(description="Only the holds in force.")] = False,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> HoldPage:
    found, next_cursor = handle_result(
        await holds.list_holds(session, active_only=active, cursor=cursor, limit=limit)
    )
    return HoldPage(items=[_hold(h) for h in found], next_cursor=next_cursor)


@router.get(
    "/holds/{hold_id}",
    response_model=HoldRead,
    responses=problem_responses(401, 403, 404, 422),
    summary="Read a legal hold",
)
async def read_hold(hold_id: uuid.UUID, session: Session, _: Manager) -> HoldRead:
    return _hold(handle_result(await holds.get(session, hold_id)))


@router.post(
    "/holds/{hold_id}/release",
    response_model=HoldRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Release a legal hold (it stays on record)",
)
async def release_hold(
    hold_id: uuid.UUID, body: HoldRelease, session: Session, actor: Manager
) -> HoldRead:
    return _hold(handle_result(await holds.release(session, hold_id, note=body.note, actor=actor)))


@router.get(
    "/retention/schedule",
    response_model=RetentionScheduleRead,
    responses=problem_responses(401, 403),
    summary="The retention schedule: each record class, its period and legal basis",
)
async def read_retention_schedule(runtime: RuntimeDep, _: Manager) -> RetentionScheduleRead:
    settings = runtime.settings
    today = clock.today()
    return RetentionScheduleRead(
        periods=[
            RetentionPeriodRead(
                record_class=p.record_class.value,
                years=p.years,
                action=p.action.value,
                basis=p.basis,
                due_before=p.cutoff(today).isoformat(),
            )
            for p in retention.retention_schedule(settings)
        ],
        cron=settings.privacy_retention_cron,
        chunk=settings.privacy_retention_chunk,
    )


@router.get(
    "/retention/runs",
    response_model=RetentionRunPage,
    responses=problem_responses(401, 403, 422),
    summary="Retention runs, newest first, with what each purged",
)
async def list_retention_runs(
    session: Session, _: Manager, cursor: Cursor = None, limit: Limit = 50
) -> RetentionRunPage:
    found, next_cursor = handle_result(
        await retention.list_runs(session, cursor=cursor, limit=limit)
    )
    return RetentionRunPage(
        items=[RetentionRunRead.model_validate(r) for r in found], next_cursor=next_cursor
    )
