"""API keys: a staff user creates, lists, rotates and revokes their own; admins see all."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.identity import api_keys
from pd_prime_demo.identity.api_keys_schemas import (
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyPage,
    ApiKeyRead,
    ApiKeyRotate,
    ApiKeyRotated,
)
from pd_prime_demo.identity.dependencies import CurrentActor, PersonSession

router = APIRouter(prefix=API_V1, tags=["identity"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _issued(issued: api_keys.IssuedKey) -> dict[str, object]:
    return {**ApiKeyRead.model_validate(issued.key).model_dump(), "key": issued.secret}


@router.post(
    "/api-keys",
    response_model=ApiKeyIssued,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Create an API key for yourself (staff); the key is shown once",
)
async def create_api_key(
    body: ApiKeyCreate,
    session: Session,
    runtime: RuntimeDep,
    response: Response,
    actor: CurrentActor,
) -> ApiKeyIssued:
    issued = handle_result(
        await api_keys.create_key(
            session,
            runtime,
            name=body.name,
            scopes=body.scopes,
            ttl_days=body.ttl_days,
            actor=actor,
        )
    )
    response.headers.update(_NO_STORE)
    response.headers["Location"] = f"/api/v1/api-keys/{issued.key.id}"
    return ApiKeyIssued.model_validate(_issued(issued))


@router.get(
    "/api-keys",
    response_model=ApiKeyPage,
    responses=problem_responses(401, 422),
    summary="List your API keys (administrators: anyone's, or one owner's)",
)
async def list_api_keys(
    session: Session,
    actor: CurrentActor,
    owner_id: uuid.UUID | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ApiKeyPage:
    found, next_cursor = handle_result(
        await api_keys.list_keys(
            session, owner_id=owner_id, cursor=cursor, limit=limit, actor=actor
        )
    )
    return ApiKeyPage(items=[ApiKeyRead.model_validate(k) for k in found], next_cursor=next_cursor)


@router.post(
    "/api-keys/{key_id}/rotation",
    response_model=ApiKeyRotated,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    summary="Rotate your API key: a new key (shown once); the old one works for the overlap",
)
async def rotate_api_key(
    key_id: uuid.UUID,
    body: ApiKeyRotate,
    session: Session,
    runtime: RuntimeDep,
    response: Response,
    actor: CurrentActor,
) -> ApiKeyRotated:
    rotated = handle_result(
        await api_keys.rotate_key(
            session, runtime, key_id, overlap_hours=body.overlap_hours, actor=actor
        )
    )
    response.headers.update(_NO_STORE)
    response.headers["Location"] = f"/api/v1/api-keys/{rotated.issued.key.id}"
    return ApiKeyRotated.model_validate(
        {**_issued(rotated.issued), "previous": ApiKeyRead.model_validate(rotated.previous)}
    )


@router.post(
    "/api-keys/{key_id}/revocation",
    response_model=ApiKeyRead,
    responses=problem_responses(401, 403, 404),
    summary="Revoke an API key (yours; administrators: anyone's): it stops working at once",
    description="Needs your own login session (not a key, a client's or an app's token).",
)
async def revoke_api_key(
    key_id: uuid.UUID, session: Session, authenticated: PersonSession
) -> ApiKeyRead:
    return ApiKeyRead.model_validate(
        handle_result(await api_keys.revoke_key(session, key_id, actor=authenticated.actor))
    )
