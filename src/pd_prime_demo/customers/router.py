"""Customer routes: thin HTTP glue over :mod:`pd_prime_demo.customers.service`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response, status

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.http_conditions import etag_for, expected_version
from pd_prime_demo.api.idempotency import IdempotencyKey, IdempotentCreate
from pd_prime_demo.api.rate_limit import login_type_limit
from pd_prime_demo.api.response_patterns import handle_result, problem_responses
from pd_prime_demo.core.actor import Actor, Permission
from pd_prime_demo.customers import service
from pd_prime_demo.customers.schemas import (
    CUSTOMER_CREATE_EXAMPLE,
    CustomerCreate,
    CustomerPage,
    CustomerRead,
    CustomerUpdate,
    EmailChangeConfirmation,
    RegistrationAccepted,
    RegistrationCreate,
)
from pd_prime_demo.identity.dependencies import CurrentActor, require

router = APIRouter(prefix=API_V1, tags=["customers"])


def _location(customer_id: uuid.UUID) -> str:
    return f"/api/v1/customers/{customer_id}"


@router.post(
    "/customers",
    response_model=CustomerRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 404, 422),
    summary="Create a customer (person or organisation)",
)
async def create_customer(
    body: Annotated[
        CustomerCreate, Body(openapi_examples={"person": {"value": CUSTOMER_CREATE_EXAMPLE}})
    ],
    request: Request,
    response: Response,
    session: Session,
    runtime: RuntimeDep,
    actor: Annotated[Actor, Depends(require(Permission.CUSTOMERS_CREATE))],
    idempotency_key: IdempotencyKey = None,
) -> CustomerRead:
    idem = IdempotentCreate.of(request, body, idempotency_key, actor, runtime.cipher)
    if (previous_id := await idem.previous(session)) is not None:
        customer = handle_result(
            await service.get_customer(session, uuid.UUID(previous_id), actor=actor)
        )
        response.headers["Idempotent-Replayed"] = "true"
    else:
        customer = handle_result(
            await service.create_customer(session, body, actor=actor, cipher=runtime.cipher)
        )
        idem.remember(session, str(customer.id))
    response.headers["Location"] = _location(customer.id)
    response.headers["ETag"] = etag_for(customer.version)
    return await service.present_one(session, customer, actor=actor, cipher=runtime.cipher)


@router.get(
    "/customers",
    response_model=CustomerPage,
    responses=problem_responses(401, 403, 422),
    summary="List and search the customers you may see",
)
async def list_customers(
    session: Session,
    runtime: RuntimeDep,
    # 403 without customers:read (an API client or key not given it), not an empty page.
    actor: Annotated[Actor, Depends(require(Permission.CUSTOMERS_READ))],
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="Matches name or e-mail (substring)."),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CustomerPage:
    rows, next_cursor = handle_result(
        await service.list_customers(session, actor=actor, q=q, cursor=cursor, limit=limit)
    )
    items = await service.present(session, rows, actor=actor, cipher=runtime.cipher)
    return CustomerPage(items=items, next_cursor=next_cursor)


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerRead,
    responses=problem_responses(401, 404),
    summary="Read a customer",
)
async def read_customer(
    customer_id: uuid.UUID,
    response: Response,
    session: Session,
    runtime: RuntimeDep,
    actor: CurrentActor,
) -> CustomerRead:
    customer = handle_result(await service.get_customer(session, customer_id, actor=actor))
    response.headers["ETag"] = etag_for(customer.version)
    response.headers["Cache-Control"] = "private, no-store"
    return await service.present_one(session, customer, actor=actor, cipher=runtime.cipher)


@router.patch(
    "/customers/{customer_id}",
    response_model=CustomerRead,
    responses=problem_responses(401, 403, 404, 412, 422, 428),
    summary="Update a customer (send If-Match with the ETag you read)",
)
async def update_customer(
    customer_id: uuid.UUID,
    body: CustomerUpdate,
    response: Response,
    session: Session,
    runtime: RuntimeDep,
    actor: CurrentActor,
    if_match: Annotated[str | None, Header(alias="If-Match", max_length=200)] = None,
) -> CustomerRead:
    version = handle_result(expected_version(if_match))
    customer = handle_result(
        await service.update_customer(
            session,
            customer_id,
            body,
            expected_version=version,
            actor=actor,
            cipher=runtime.cipher,
        )
    )
    response.headers["ETag"] = etag_for(customer.version)
    return await service.present_one(session, customer, actor=actor, cipher=runtime.cipher)


@router.post(
    "/registrations",
    response_model=RegistrationAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(422, 429),
    dependencies=[Depends(login_type_limit)],
    summary="Sign up as a policyholder: a login and your customer record",
    description=(
        "Answers 202 alike whether or not the address already has an account, and sends a "
        "message to it: a link that confirms the address and opens the login, or, for an "
        "address with an account, a pointer to the password reset."
    ),
)
async def register_customer(
    body: RegistrationCreate,
    session: Session,
    runtime: RuntimeDep,
) -> RegistrationAccepted:
    handle_result(await service.register(session, body, rt=runtime))
    return RegistrationAccepted()


@router.post(
    "/account/email-change/confirmation",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(409, 422, 429),
    dependencies=[Depends(login_type_limit)],
    tags=["account"],
    summary="Confirm a new e-mail address with the link sent to it",
    description=(
        "The login moves to the new address, and so does the e-mail of the customer record "
        "the login owns. 409 `user.email_taken` if another account took the address since."
    ),
)
async def confirm_email_change(
    body: EmailChangeConfirmation, session: Session, runtime: RuntimeDep
) -> None:
    handle_result(await service.confirm_email_change(session, token=body.token, rt=runtime))
