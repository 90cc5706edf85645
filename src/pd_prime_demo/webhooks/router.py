"""Webhook routes: thin HTTP glue over :mod:`pd_prime_demo.webhooks.service`.

Every route needs ``webhooks:manage``; a subscription someone may not manage is a 404.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.http_conditions import etag_for, expected_version
from pd_prime_demo.api.idempotency import IdempotencyKey, IdempotentCreate
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity.dependencies import require
from pd_prime_demo.webhooks import service
from pd_prime_demo.webhooks.models import DeliveryStatus, WebhookSubscription
from pd_prime_demo.webhooks.rules import NetworkPolicy
from pd_prime_demo.webhooks.schemas import (
    AttemptRead,
    DeliveryDetail,
    DeliveryPage,
    DeliveryRead,
    ReplayAccepted,
    ReplayRequest,
    SecretRotated,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionPage,
    SubscriptionRead,
    SubscriptionUpdate,
)

router = APIRouter(prefix=f"{API_V1}/webhooks", tags=["webhooks"])
Manager = Annotated[Actor, Depends(require(Permission.WEBHOOKS_MANAGE))]
_NO_STORE = {"Cache-Control": "no-store"}
Cursor = Annotated[str | None, Query(max_length=200)]
Limit = Annotated[int, Query(ge=1, le=200)]


def _network(runtime: Runtime) -> NetworkPolicy:
    return NetworkPolicy.for_env(runtime.settings.env)


def _location(subscription_id: uuid.UUID) -> str:
    return f"{API_V1}/webhooks/subscriptions/{subscription_id}"


def _read(subscription: WebhookSubscription, response: Response) -> SubscriptionRead:
    response.headers["ETag"] = etag_for(subscription.version)
    return SubscriptionRead.model_validate(subscription)


@router.post(
    "/subscriptions",
    response_model=SubscriptionCreated,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
    summary="Subscribe an API client to events; the signing secret is shown once",
)
async def create_subscription(
    body: SubscriptionCreate,
    request: Request,
    response: Response,
    session: Session,
    runtime: RuntimeDep,
    actor: Manager,
    idempotency_key: IdempotencyKey = None,
) -> SubscriptionCreated:
    idem = IdempotentCreate.of(request, body, idempotency_key, actor, runtime.cipher)
    if (previous_id := await idem.previous(session)) is not None:
        # The same answer as the first time, secret included: it is that request's outcome.
        subscription = handle_result(
            await service.get_subscription(session, uuid.UUID(previous_id), actor=actor)
        )
        secret = service.reveal_secret(subscription, runtime.cipher)
        response.headers["Idempotent-Replayed"] = "true"
    else:
        created = handle_result(
            await service.create_subscription(
                session, body, actor=actor, cipher=runtime.cipher, network=_network(runtime)
            )
        )
        subscription, secret = created.subscription, created.secret
        idem.remember(session, str(subscription.id))
    response.headers.update(_NO_STORE)
    response.headers["Location"] = _location(subscription.id)
    read = _read(subscription, response)
    return SubscriptionCreated(**read.model_dump(), secret=secret)


@router.get(
    "/subscriptions",
    response_model=SubscriptionPage,
    responses=problem_responses(401, 403, 422),
    summary="List the subscriptions you manage",
)
async def list_subscriptions(
    session: Session,
    actor: Manager,
    client_id: Annotated[uuid.UUID | None, Query(description="Only this client's.")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> SubscriptionPage:
    rows, next_cursor = handle_result(
        await service.list_subscriptions(
            session, actor=actor, client_id=client_id, cursor=cursor, limit=limit
        )
    )
    return SubscriptionPage(
        items=[SubscriptionRead.model_validate(row) for row in rows], next_cursor=next_cursor
    )


@router.get(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    responses=problem_responses(401, 403, 404),
    summary="Read a subscription",
)
async def read_subscription(
    subscription_id: uuid.UUID, response: Response, session: Session, actor: Manager
) -> SubscriptionRead:
    found = handle_result(await service.get_subscription(session, subscription_id, actor=actor))
    return _read(found, response)


@router.patch(
    "/subscriptions/{subscription_id}",
    response_model=SubscriptionRead,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
    summary="Change a subscription's URL, event types or description, or enable or disable it",
)
async def update_subscription(
    subscription_id: uuid.UUID,
    body: SubscriptionUpdate,
    response: Response,
    session: Session,
    runtime: RuntimeDep,
    actor: Manager,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=200)] = None,
) -> SubscriptionRead:
    version = handle_result(expected_version(if_match))
    updated = handle_result(
        await service.update_subscription(
            session,
            subscription_id,
            body,
            expected_version=version,
            actor=actor,
            network=_network(runtime),
        )
    )
    return _read(updated, response)


@router.delete(
    "/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 412),
    summary="Delete a subscription and its delivery log (If-Match optional)",
)
async def delete_subscription(
    subscription_id: uuid.UUID,
    session: Session,
    actor: Manager,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=200)] = None,
) -> Response:
    version = handle_result(expected_version(if_match)) if if_match is not None else None
    handle_result(
        await service.delete_subscription(
            session, subscription_id, expected_version=version, actor=actor
        )
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/subscriptions/{subscription_id}/secret",
    response_model=SecretRotated,
    responses=problem_responses(401, 403, 404),
    summary="Rotate the signing secret; the previous one keeps signing beside it for a day",
)
async def rotate_secret(
    subscription_id: uuid.UUID,
    response: Response,
    session: Session,
    runtime: RuntimeDep,
    actor: Manager,
) -> SecretRotated:
    rotated = handle_result(
        await service.rotate_secret(session, subscription_id, actor=actor, cipher=runtime.cipher)
    )
    response.headers.update(_NO_STORE)
    response.headers["ETag"] = etag_for(rotated.subscription.version)
    return SecretRotated(
        secret=rotated.secret, previous_secret_expires_at=rotated.previous_expires_at
    )


@router.get(
    "/subscriptions/{subscription_id}/deliveries",
    response_model=DeliveryPage,
    responses=problem_responses(401, 403, 404, 422),
    summary="The subscription's delivery log, newest first",
)
async def list_deliveries(
    subscription_id: uuid.UUID,
    session: Session,
    actor: Manager,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> DeliveryPage:
    rows, next_cursor = handle_result(
        await service.list_deliveries(
            session,
            subscription_id,
            actor=actor,
            status=delivery_status,
            cursor=cursor,
            limit=limit,
        )
    )
    return DeliveryPage(
        items=[DeliveryRead.model_validate(row) for row in rows], next_cursor=next_cursor
    )


@router.get(
    "/subscriptions/{subscription_id}/deliveries/{delivery_id}",
    response_model=DeliveryDetail,
    responses=problem_responses(401, 403, 404),
    summary="A delivery and every attempt made for it",
)
async def read_delivery(
    subscription_id: uuid.UUID, delivery_id: uuid.UUID, session: Session, actor: Manager
) -> DeliveryDetail:
    found = handle_result(
        await service.get_delivery(session, subscription_id, delivery_id, actor=actor)
    )
    return DeliveryDetail(
        **DeliveryRead.model_validate(found.delivery).model_dump(),
        attempt_log=[AttemptRead.model_validate(a) for a in found.attempts],
    )


@router.post(
    "/subscriptions/{subscription_id}/deliveries/{delivery_id}/replay",
    response_model=DeliveryRead,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 409),
    summary="Send a delivery again, on a fresh retry schedule",
)
async def replay_delivery(
    subscription_id: uuid.UUID, delivery_id: uuid.UUID, session: Session, actor: Manager
) -> DeliveryRead:
    delivery = handle_result(
        await service.replay_delivery(session, subscription_id, delivery_id, actor=actor)
    )
    return DeliveryRead.model_validate(delivery)


@router.post(
    "/subscriptions/{subscription_id}/replay",
    response_model=ReplayAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Send every failed delivery made since a moment again",
)
async def replay_failed(
    subscription_id: uuid.UUID, body: ReplayRequest, session: Session, actor: Manager
) -> ReplayAccepted:
    count = handle_result(
        await service.replay_failed(session, subscription_id, since=body.since, actor=actor)
    )
    return ReplayAccepted(replayed=count)
