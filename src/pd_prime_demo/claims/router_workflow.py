"""Claims routes. Handling a claim: reading and listing, the status workflow, assignment, notes,
the diary and the claim as of a date.

The fixed paths (``/claims/queue``, ``/claims/diary``) are declared before ``/claims/{id}``.
A claim the actor may not see is 404 on every route; one they see but may not handle, 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Response, status
from pydantic import BaseModel

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.http_conditions import etag_for, expected_version
from pd_prime_demo.api.response_patterns import fail, handle_result, problem_responses
from pd_prime_demo.claims.enums import ClaimStatus
from pd_prime_demo.claims.models import Claim
from pd_prime_demo.claims.schemas_workflow import (
    AssignmentRequest,
    ClaimAsOf,
    ClaimPage,
    ClaimRead,
    ClaimSummary,
    DiaryCreate,
    DiaryPage,
    DiaryRead,
    NoteCreate,
    NotePage,
    NoteRead,
    StatusMove,
)
from pd_prime_demo.claims.service import assignment, diary, notes, read, workflow
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.dates import BusinessDate, Moment
from pd_prime_demo.core.result_types import DomainError, FieldIssue, Result, invalid
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity.dependencies import CurrentActor

router = APIRouter(prefix=API_V1, tags=["claims"])

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=200,
        description="The claim's ETag from your last read (required).",
    ),
]
Cursor = Annotated[str | None, Query(max_length=200, description="From `next_cursor`.")]
Limit = Annotated[int, Query(ge=1, le=200)]
Who = Annotated[
    str | None,
    Query(
        pattern=r"^(me|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$",
        description="A user id, or `me`.",
    ),
]


class PageArgs(TypedDict):
    cursor: str | None
    limit: int


async def _paging(cursor: Cursor = None, limit: Limit = 50) -> PageArgs:
    return PageArgs(cursor=cursor, limit=limit)


#: ``cursor`` and ``limit`` of a claim's list, passed on as keywords.
Paging = Annotated[PageArgs, Depends(_paging)]
P = TypeVar("P", bound=BaseModel)
CHANGED = problem_responses(401, 403, 404, 409, 412, 422, 428)
READ = problem_responses(401, 403, 404, 422)


def _user(who: str | None, actor: Actor, parameter: str) -> uuid.UUID | None:
    if who is None:
        return None
    if who != "me":
        return uuid.UUID(who)
    if actor.user_id is None:
        fail(invalid("claim.no_user", "`me` names no user", FieldIssue(parameter, "no user")))
    return actor.user_id


@dataclass(frozen=True)
class Change:
    """What a conditional change of a claim needs of the request: who asks, their If-Match,
    and the response that gets the claim's new ETag."""

    response: Response
    actor: Actor
    runtime: Runtime
    if_match: str | None

    @property
    def version(self) -> int | None:
        """The version If-Match names; a missing or malformed one is refused (428, 412) when
        the route asks, after the body was validated."""
        return handle_result(expected_version(self.if_match))

    async def present(self, session: Session, claim: Claim) -> ClaimRead:
        self.response.headers["ETag"] = etag_for(claim.version)
        return await read.present(session, claim, actor=self.actor, cipher=self.runtime.cipher)


async def _change(
    response: Response, actor: CurrentActor, runtime: RuntimeDep, if_match: IfMatch = None
) -> Change:
    return Change(response, actor, runtime, if_match)


Changing = Annotated[Change, Depends(_change)]


def _page(
    page: type[P],
    item: type[BaseModel],
    found: Result[tuple[Sequence[Any], str | None], DomainError],
) -> P:
    """A page of ``item``s read from the service's rows and cursor (or the problem it gave)."""
    rows, next_cursor = handle_result(found)
    return page(items=[item.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/claims",
    response_model=ClaimPage,
    responses=problem_responses(401, 403, 422),
    summary="The claims you may see, newest reported first, filtered, a page at a time",
)
async def list_claims(
    session: Session,
    actor: CurrentActor,
    page: Paging,
    claim_status: Annotated[ClaimStatus | None, Query(alias="status")] = None,
    adjuster_id: Who = None,
    policy_id: uuid.UUID | None = None,
    customer_id: uuid.UUID | None = None,
    product_code: Annotated[str | None, Query(max_length=50)] = None,
) -> ClaimPage:
    where = read.ClaimFilter(
        status=claim_status,
        adjuster_id=_user(adjuster_id, actor, "adjuster_id"),
        policy_id=policy_id,
        customer_id=customer_id,
        product_code=product_code,
    )
    found = await read.list_claims(session, actor=actor, where=where, **page)
    return _page(ClaimPage, ClaimSummary, found)


@router.get(
    "/claims/queue",
    response_model=ClaimPage,
    responses=problem_responses(401, 403, 422),
    summary="An adjuster's queue: their claims not closed, oldest reported first",
)
async def adjuster_queue(
    session: Session,
    actor: CurrentActor,
    page: Paging,
    adjuster_id: Who = "me",
) -> ClaimPage:
    where = read.ClaimFilter(adjuster_id=_user(adjuster_id, actor, "adjuster_id"), open_only=True)
    found = await read.list_claims(session, actor=actor, where=where, oldest_first=True, **page)
    return _page(ClaimPage, ClaimSummary, found)


@router.get(
    "/claims/diary",
    response_model=DiaryPage,
    responses=problem_responses(401, 403, 422),
    summary="Diary tasks across claims by due date: yours (`assignee=me`) or anyone's",
)
async def list_diary(
    session: Session,
    actor: CurrentActor,
    page: Paging,
    assignee: Who = None,
    due_before: Annotated[BusinessDate | None, Query()] = None,
    include_done: Annotated[bool, Query(description="Completed tasks too.")] = False,
) -> DiaryPage:
    found = await diary.diary(
        session,
        actor=actor,
        assignee=_user(assignee, actor, "assignee"),
        due_before=due_before,
        open_only=not include_done,
        **page,
    )
    return _page(DiaryPage, DiaryRead, found)


@router.get(
    "/claims/{claim_id}",
    response_model=ClaimRead,
    responses=READ,
    summary="A claim in detail (staff's view, or the policyholder's)",
)
async def read_claim(
    claim_id: uuid.UUID,
    response: Response,
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
) -> ClaimRead:
    claim, presented = handle_result(
        await read.read_claim(session, claim_id, actor=actor, cipher=runtime.cipher)
    )
    response.headers["ETag"] = etag_for(claim.version)
    return presented


@router.get(
    "/claims/{claim_id}/as-of",
    response_model=ClaimAsOf,
    responses=READ,
    summary="The claim as it stood at a moment: status, adjuster, reserves, paid, recovered",
)
async def read_claim_as_of(
    claim_id: uuid.UUID,
    session: Session,
    actor: CurrentActor,
    at: Annotated[Moment | None, Query(description="RFC 3339; default now.")] = None,
) -> ClaimAsOf:
    return handle_result(await read.claim_as_of(session, claim_id, at or clock.now(), actor=actor))


@router.post(
    "/claims/{claim_id}/status",
    response_model=ClaimRead,
    responses=CHANGED,
    summary="Move the claim in its workflow (409 names the moves it has)",
)
async def move_claim(
    claim_id: uuid.UUID, body: StatusMove, session: Session, change: Changing
) -> ClaimRead:
    moved = await workflow.change_status(
        session,
        claim_id,
        body.status,
        outcome=body.outcome,
        reason=body.reason,
        expected_version=change.version,
        actor=change.actor,
    )
    return await change.present(session, handle_result(moved))


@router.post(
    "/claims/{claim_id}/assignment",
    response_model=ClaimRead,
    responses=CHANGED,
    summary="Assign the claim to an adjuster, or to the one with the fewest open claims",
)
async def assign_claim(
    claim_id: uuid.UUID, body: AssignmentRequest, session: Session, change: Changing
) -> ClaimRead:
    assigned = await assignment.assign(
        session,
        claim_id,
        adjuster_id=body.adjuster_id,
        reason=body.reason,
        expected_version=change.version,
        actor=change.actor,
    )
    return await change.present(session, handle_result(assigned))


@router.post(
    "/claims/{claim_id}/notes",
    response_model=NoteRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    summary="Add a note: internal (staff only) or shared with the policyholder",
)
async def add_note(
    claim_id: uuid.UUID, body: NoteCreate, session: Session, actor: CurrentActor
) -> NoteRead:
    note = handle_result(
        await notes.add_note(session, claim_id, body=body.body, internal=body.internal, actor=actor)
    )
    return NoteRead.model_validate(note)


@router.get(
    "/claims/{claim_id}/notes",
    response_model=NotePage,
    responses=READ,
    summary="The claim's notes, oldest first (the policyholder reads the shared ones)",
)
async def list_notes(
    claim_id: uuid.UUID, session: Session, actor: CurrentActor, page: Paging
) -> NotePage:
    found = await notes.list_notes(session, claim_id, actor=actor, **page)
    return _page(NotePage, NoteRead, found)


@router.post(
    "/claims/{claim_id}/diary",
    response_model=DiaryRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    summary="Add a diary task with a due date (for the claim's adjuster by default)",
)
async def add_diary_task(
    claim_id: uuid.UUID, body: DiaryCreate, session: Session, actor: CurrentActor
) -> DiaryRead:
    task = handle_result(
        await diary.add_task(
            session,
            claim_id,
            title=body.title,
            details=body.details,
            due_on=body.due_on,
            assigned_to=body.assigned_to,
            actor=actor,
        )
    )
    return DiaryRead.model_validate(task)


@router.get(
    "/claims/{claim_id}/diary",
    response_model=DiaryPage,
    responses=READ,
    summary="The claim's diary tasks by due date",
)
async def list_claim_diary(
    claim_id: uuid.UUID, session: Session, actor: CurrentActor, page: Paging
) -> DiaryPage:
    found = await diary.claim_diary(session, claim_id, actor=actor, **page)
    return _page(DiaryPage, DiaryRead, found)


@router.post(
    "/claims/{claim_id}/diary/{task_id}/complete",
    response_model=DiaryRead,
    responses=problem_responses(401, 403, 404, 409),
    summary="Mark a diary task done",
)
async def complete_diary_task(
    claim_id: uuid.UUID, task_id: uuid.UUID, session: Session, actor: CurrentActor
) -> DiaryRead:
    task = handle_result(await diary.complete_task(session, claim_id, task_id, actor=actor))
    return DiaryRead.model_validate(task)
