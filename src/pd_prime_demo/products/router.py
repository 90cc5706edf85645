"""Product versions over HTTP: the published format, upload, lifecycle, and reading."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Response, status

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import Session
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.identity.dependencies import require
from pd_prime_demo.products import service
from pd_prime_demo.products.models import ProductVersionStatus
from pd_prime_demo.products.schemas import (
    ProductVersionDetail,
    ProductVersionList,
    ProductVersionRead,
)
from pd_prime_demo.rating.definition import ProductVersionDefinition

router = APIRouter(prefix=f"{API_V1}/products", tags=["products"])

Manager = Annotated[Actor, Depends(require(Permission.PRODUCTS_MANAGE))]
Reader = Annotated[Actor, Depends(require(Permission.PRODUCTS_READ))]
DefinitionBody = Annotated[
    dict[str, Any],
    Body(description="A product version definition; see GET /api/v1/products/schema."),
]


@router.get("/schema", summary="The JSON Schema of a product version definition")
async def get_definition_schema() -> dict[str, Any]:
    return ProductVersionDefinition.model_json_schema()


@router.post(
    "/versions",
    response_model=ProductVersionRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
    summary="Upload a product version as a draft (validated, with pointers to every problem)",
)
async def upload_product_version(
    definition: DefinitionBody, session: Session, response: Response, actor: Manager
) -> ProductVersionRead:
    row = handle_result(await service.upload_version(session, definition, actor=actor))
    response.headers["Location"] = f"{API_V1}/products/versions/{row.id}"
    return ProductVersionRead.model_validate(row)


@router.put(
    "/versions/{version_id}",
    response_model=ProductVersionRead,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Replace a draft version's definition (approved versions never change)",
)
async def replace_draft_version(
    version_id: uuid.UUID, definition: DefinitionBody, session: Session, actor: Manager
) -> ProductVersionRead:
    row = handle_result(await service.replace_draft(session, version_id, definition, actor=actor))
    return ProductVersionRead.model_validate(row)


@router.post(
    "/versions/{version_id}/{action}",
    response_model=ProductVersionRead,
    responses=problem_responses(401, 403, 404, 409),
    summary="Move a version through draft -> approved -> active -> retired",
)
async def transition_product_version(
    version_id: uuid.UUID,
    action: Literal["approve", "activate", "retire"],
    session: Session,
    actor: Manager,
) -> ProductVersionRead:
    row = handle_result(await service.transition(session, version_id, action, actor=actor))
    return ProductVersionRead.model_validate(row)


@router.get(
    "/versions",
    response_model=ProductVersionList,
    responses=problem_responses(401, 403, 422),
    summary="List product versions",
)
async def list_product_versions(
    session: Session,
    _: Reader,
    product_code: Annotated[str | None, Query(max_length=50)] = None,
    state: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")] = None,
    version_status: Annotated[ProductVersionStatus | None, Query(alias="status")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ProductVersionList:
    rows, next_cursor = handle_result(
        await service.page_versions(
            session,
            product_code=product_code,
            state=state,
            status=version_status,
            cursor=cursor,
            limit=limit,
        )
    )
    return ProductVersionList(
        items=[ProductVersionRead.model_validate(r) for r in rows], next_cursor=next_cursor
    )


@router.get(
    "/versions/{version_id}",
    response_model=ProductVersionDetail,
    responses=problem_responses(401, 403, 404),
    summary="Read a product version with its full definition",
)
async def read_product_version(
    version_id: uuid.UUID, session: Session, _: Reader
) -> ProductVersionDetail:
    return ProductVersionDetail.model_validate(
        handle_result(await service.get_version(session, version_id))
    )
