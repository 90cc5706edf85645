"""The diary: tasks on a claim with a due date (ClaimCenter's activities), for the claim's
adjuster unless given to another handler; an adjuster's diary across their claims."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.claims.enums import DiaryStatus
from pd_prime_demo.claims.models import DiaryTask
from pd_prime_demo.claims.repository import workflow as repository
from pd_prime_demo.claims.service.common import get_claim, permission_missing
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    invalid,
    not_found,
)
from pd_prime_demo.identity import service as identity

TASK_NOT_FOUND = not_found("diary task", "claim.diary_task_not_found")
NOT_A_HANDLER = invalid(
    "claim.not_a_handler",
    "a diary task goes to an active adjuster or administrator",
    FieldIssue("#/assigned_to", "not an active adjuster or administrator"),
)


async def _handler(session: AsyncSession, user_id: uuid.UUID) -> bool:
    for role in (Role.ADJUSTER, Role.ADMIN):
        if await identity.find_active_user(session, user_id, role=role) is not None:
            return True
    return False


async def add_task(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    title: str,
    details: str,
    due_on: date,
    assigned_to: uuid.UUID | None,
    actor: Actor,
) -> Result[DiaryTask, DomainError]:
    match await get_claim(session, claim_id, actor=actor, permission=Permission.CLAIMS_ADJUST):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    assignee = assigned_to or claim.adjuster_id
    if assigned_to is not None and not await _handler(session, assigned_to):
        return Err(NOT_A_HANDLER)
    task = DiaryTask(
        id=uuid.uuid4(),
        claim_id=claim.id,
        title=title,
        details=details,
        due_on=due_on,
        assigned_to=assignee,
        status=DiaryStatus.OPEN.value,
        created_by=actor.id,
        created_at=clock.now(),
    )
    repository.add(session, task)
    await audit.record(
        session,
        actor,
        "claim.diary_task_added",
        "claim",
        str(claim.id),
        {
            "task_id": str(task.id),
            "due_on": due_on.isoformat(),
            "assigned_to": str(assignee) if assignee else None,
        },
    )
    await session.flush()
    return Ok(task)


async def complete_task(
    session: AsyncSession, claim_id: uuid.UUID, task_id: uuid.UUID, *, actor: Actor
) -> Result[DiaryTask, DomainError]:
    match await get_claim(session, claim_id, actor=actor, permission=Permission.CLAIMS_ADJUST):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    task = await repository.diary_task(session, claim.id, task_id, for_update=True)
    if task is None:
        return Err(TASK_NOT_FOUND)
    if task.status != DiaryStatus.OPEN.value:
        return Err(conflict("claim.diary_task_not_open", f"the task is {task.status}"))
    task.status = DiaryStatus.DONE.value
    task.completed_at = clock.now()
    task.completed_by = actor.id
    await audit.record(
        session,
        actor,
        "claim.diary_task_completed",
        "claim",
        str(claim.id),
        {"task_id": str(task.id)},
    )
    await session.flush()
    return Ok(task)


async def claim_diary(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    actor: Actor,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[DiaryTask], str | None], DomainError]:
    """A claim's tasks by due date (staff handling it only)."""
    match await get_claim(session, claim_id, actor=actor, permission=Permission.CLAIMS_ADJUST):
        case Err() as err:
            return err
        case Ok(claim):
            pass
    query = repository.diary_query(claim_id=claim.id)
    return await keyset_page(
        session, query, cursor=cursor, limit=limit, keys=(DiaryTask.due_on, DiaryTask.id)
    )


async def diary(
    session: AsyncSession,
    *,
    actor: Actor,
    assignee: uuid.UUID | None,
    due_before: date | None,
    open_only: bool,
    cursor: str | None,
    limit: int,
) -> Result[tuple[list[DiaryTask], str | None], DomainError]:
    """Tasks across claims by due date: one handler's (``assignee``) or everyone's, those due
    before ``due_before``; the open ones unless ``open_only`` is off."""
    if not actor.has(Permission.CLAIMS_ADJUST):
        return Err(permission_missing(Permission.CLAIMS_ADJUST))
    query = repository.diary_query(assignee=assignee, due_before=due_before, open_only=open_only)
    return await keyset_page(
        session, query, cursor=cursor, limit=limit, keys=(DiaryTask.due_on, DiaryTask.id)
    )
