"""The event stream (pull), the catalogue of event types and the AsyncAPI document."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AfterValidator

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import Session
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.events import service
from pd_prime_demo.events.asyncapi import asyncapi_document
from pd_prime_demo.events.catalogue import FAMILIES, PUBLISHED, parse_filter, schemas
from pd_prime_demo.events.schemas import EventPage, EventRead, EventTypeList, EventTypeRead
from pd_prime_demo.identity.dependencies import require

router = APIRouter(tags=["events"])

Reader = Annotated[Actor, Depends(require(Permission.EVENTS_READ))]


def _known_types(patterns: list[str]) -> list[str]:
    if isinstance(why := parse_filter(patterns), str):
        raise ValueError(why)
    return patterns


Types = Annotated[
    list[str],
    Query(
        alias="type",
        max_length=50,
        description="Only these event types: exact (`policy.endorsement`) or a family "
        "(`policy.*`); repeat the parameter for several. Default: every type.",
    ),
    AfterValidator(_known_types),
]


def _read(event: service.Published) -> EventRead:
    return EventRead.model_validate(service.message(event))


@router.get(
    f"{API_V1}/events",
    response_model=EventPage,
    responses=problem_responses(401, 403, 422),
    summary="Published events after a position, oldest first",
    description="The event stream: every published event the caller may see (its customers' "
    "events, and for company-wide staff the company's own), in the order they committed. "
    "`after` is a plain position (an event's `id`); pass `next_cursor` as the next `after`. "
    "Positions have no gaps and follow commit order, so resuming after the last `id` seen "
    "misses nothing.",
)
async def read_event_stream(
    session: Session,
    actor: Reader,
    after: Annotated[int, Query(ge=0, le=2**62, description="Events after this position.")] = 0,
    types: Types = [],  # noqa: B006 - FastAPI copies defaults per request
    limit: Annotated[int, Query(ge=1, le=service.MAX_LIMIT)] = 100,
) -> EventPage:
    page = handle_result(
        await service.read_stream(session, actor=actor, after=after, types=types, limit=limit)
    )
    return EventPage(items=[_read(e) for e in page.events], next_cursor=page.next_cursor)


def _known_families(families: list[str]) -> list[str]:
    if unknown := sorted(set(families) - FAMILIES):
        raise ValueError(
            f"no such family: {', '.join(unknown)} (one of {', '.join(sorted(FAMILIES))})"
        )
    return families


Families = Annotated[
    list[str],
    Query(alias="family", max_length=20, description="Only these families (`policy`)."),
    AfterValidator(_known_families),
]


@router.get(
    f"{API_V1}/events/types",
    response_model=EventTypeList,
    responses=problem_responses(422),
    summary="The catalogue: every event type with the JSON Schema of its payload",
    description="Public, like the AsyncAPI document at /asyncapi.json that describes the same "
    "types as messages of the live-updates WebSocket.",
)
async def list_event_types(families: Families = []) -> EventTypeList:  # noqa: B006
    payload = schemas()
    return EventTypeList(
        items=[
            EventTypeRead(
                name=t.name,
                family=t.family,
                summary=t.summary,
                aggregate_type=t.aggregate_type,
                visibility=t.visibility,
                payload_schema=payload[t.name],
            )
            for t in PUBLISHED.values()
            if not families or t.family in families
        ]
    )


@router.get(
    f"{API_V1}/events/{{position}}",
    response_model=EventRead,
    responses=problem_responses(401, 403, 404, 422),
    summary="One published event by its position",
)
async def get_event(
    session: Session,
    actor: Reader,
    position: Annotated[int, Path(ge=1, le=2**62)],
) -> EventRead:
    return _read(handle_result(await service.get_event(session, position, actor=actor)))


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi(request: Request) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of live updates (public, like /openapi.json)."""
    forwarded = request.headers.get("x-forwarded-proto")
    secure = (forwarded or request.url.scheme) in ("https", "wss")
    return asyncapi_document(host=request.url.netloc, secure=secure)
