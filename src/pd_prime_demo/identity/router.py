"""Login (OAuth 2.0 token endpoint), token revocation, JWKS, and staff user management."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Response, status

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import (
    CurrentActor,
    RuntimeDep,
    Session,
    current_authentication,
    require,
)
from pd_prime_demo.api.response_patterns import (
    domain_error_response,
    fail,
    handle_result,
    problem_responses,
)
from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.core.result_types import invalid
from pd_prime_demo.identity import service
from pd_prime_demo.identity.rules import permissions_for
from pd_prime_demo.identity.schemas import (
    JwksRead,
    MeRead,
    StaffUserCreate,
    TokenResponse,
    UserPage,
    UserRead,
)

router = APIRouter(prefix=API_V1, tags=["identity"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    responses=problem_responses(401, 422, 429),
    summary="Log in or refresh (OAuth 2.0 password and refresh_token grants)",
)
async def issue_token(
    session: Session,
    runtime: RuntimeDep,
    response: Response,
    grant_type: Annotated[Literal["password", "refresh_token"], Form()],
    username: Annotated[str | None, Form(max_length=320)] = None,
    password: Annotated[str | None, Form(max_length=256)] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str, Form(max_length=200)] = "",
) -> TokenResponse | Response:
    response.headers.update(_NO_STORE)
    if grant_type == "password":
        if not username or not password:
            fail(invalid("auth.missing_credentials", "username and password are required"))
        tokens = handle_result(
            await service.login(session, runtime, email=username, password=password)
        )
    else:
        if not refresh_token:
            fail(invalid("auth.missing_refresh_token", "refresh_token is required"))
        outcome = handle_result(
            await service.refresh(session, runtime, refresh_token=refresh_token)
        )
        if isinstance(outcome, service.RefreshReuse):
            # Returned, not raised: the session revocation must commit.
            return domain_error_response(service.REFRESH_REUSED, instance="/api/v1/auth/token")
        tokens = outcome
    return TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
    )


@router.post(
    "/auth/revoke",
    status_code=status.HTTP_200_OK,
    responses=problem_responses(422),
    summary="Revoke a refresh token and its login session (RFC 7009)",
)
async def revoke_token(
    session: Session,
    token: Annotated[str, Form(max_length=200)],
    token_type_hint: Annotated[str | None, Form(max_length=50)] = None,
) -> dict[str, str]:
    handle_result(await service.revoke(session, token=token))
    return {"status": "revoked"}


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401),
    summary="End the current login session; its access and refresh tokens stop working",
)
async def log_out(
    session: Session,
    authenticated: Annotated[service.Authenticated, Depends(current_authentication)],
) -> None:
    handle_result(
        await service.logout_session(
            session, session_id=authenticated.session_id, actor=authenticated.actor
        )
    )


@router.get(
    "/auth/jwks.json",
    response_model=JwksRead,
    summary="Public keys that verify access tokens (RFC 7517)",
)
async def get_jwks(runtime: RuntimeDep) -> JwksRead:
    return JwksRead.model_validate(runtime.signer.public_jwks())


@router.get(
    "/users/me",
    response_model=MeRead,
    responses=problem_responses(401),
    summary="Who am I, and what may I do",
)
async def read_me(session: Session, actor: CurrentActor) -> MeRead:
    assert actor.user_id is not None
    user = handle_result(await service.get_user(session, actor.user_id))
    return MeRead(
        **UserRead.model_validate(user).model_dump(),
        permissions=sorted(permissions_for(Role(user.role))),
    )


@router.post(
    "/users",
    response_model=UserRead,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 409, 422),
    summary="Create a staff user (admins only)",
)
async def create_staff_user(
    body: StaffUserCreate,
    session: Session,
    runtime: RuntimeDep,
    response: Response,
    actor: Annotated[Actor, Depends(require(Permission.USERS_MANAGE))],
) -> UserRead:
    user = handle_result(
        await service.create_user(
            session,
            email=body.email,
            password=body.password,
            full_name=body.full_name,
            role=Role(body.role),
            passwords=runtime.passwords,
            actor=actor,
            underwriting_authority=body.underwriting_authority,
        )
    )
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return UserRead.model_validate(user)


@router.get(
    "/users",
    response_model=UserPage,
    responses=problem_responses(401, 403, 422),
    summary="List users (admins only)",
)
async def list_users(
    session: Session,
    _: Annotated[Actor, Depends(require(Permission.USERS_READ))],
    role: Role | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> UserPage:
    users, next_cursor = handle_result(
        await service.list_users(session, role=role, cursor=cursor, limit=limit)
    )
    return UserPage(items=[UserRead.model_validate(u) for u in users], next_cursor=next_cursor)


@router.get(
    "/users/{user_id}",
    response_model=UserRead,
    responses=problem_responses(401, 403, 404),
    summary="Read a user (admins only)",
)
async def read_user(
    user_id: uuid.UUID,
    session: Session,
    _: Annotated[Actor, Depends(require(Permission.USERS_READ))],
) -> UserRead:
    return UserRead.model_validate(handle_result(await service.get_user(session, user_id)))


@router.post(
    "/users/{user_id}/deactivation",
    response_model=UserRead,
    responses=problem_responses(401, 403, 404, 409),
    summary="Deactivate a user and end all of their sessions (admins only)",
)
async def deactivate_user(
    user_id: uuid.UUID,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.USERS_MANAGE))],
) -> UserRead:
    return UserRead.model_validate(
        handle_result(await service.deactivate_user(session, user_id, actor=actor))
    )
