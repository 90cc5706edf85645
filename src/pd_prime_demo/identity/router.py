"""Login (OAuth 2.0 token endpoint), token revocation, JWKS, and staff user management."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, Form, Query, Request, Response, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from pd_prime_demo.api import API_V1
from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.rate_limit import token_endpoint_limit
from pd_prime_demo.api.response_patterns import (
    domain_error_response,
    fail,
    handle_result,
    problem_responses,
)
from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.core.result_types import conflict, invalid
from pd_prime_demo.identity import clients, service
from pd_prime_demo.identity.caller import caller
from pd_prime_demo.identity.dependencies import CurrentActor, current_authentication, require
from pd_prime_demo.identity.login import MFA_GRANT
from pd_prime_demo.identity.schemas import (
    ApiClientCreate,
    ApiClientPage,
    ApiClientRead,
    ApiClientRegistered,
    JwksRead,
    MeRead,
    StaffUserCreate,
    TokenResponse,
    UserPage,
    UserRead,
)

router = APIRouter(prefix=API_V1, tags=["identity"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


_client_basic = HTTPBasic(
    auto_error=False,
    description="An API client's id and secret (client credentials grant only).",
)


def _client_credentials(
    basic: HTTPBasicCredentials | None, client_id: str | None, client_secret: str | None
) -> tuple[str, str]:
    """RFC 6749 §2.3.1: HTTP Basic (each part form-encoded first) or the two form fields,
    never both."""
    if basic is not None:
        if client_id or client_secret:
            fail(
                invalid(
                    "auth.multiple_client_credentials",
                    "send the client credentials either as HTTP Basic or in the form, not both",
                )
            )
        return unquote_plus(basic.username), unquote_plus(basic.password)
    if not client_id or not client_secret:
        fail(invalid("auth.missing_credentials", "client_id and client_secret are required"))
    return client_id, client_secret


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    responses=problem_responses(401, 422, 429, 503),
    dependencies=[Depends(token_endpoint_limit)],
    summary="Log in, refresh, or authenticate an API client (OAuth 2.0 token endpoint)",
    description=(
        "Grants: `password` and `refresh_token` for people; `client_credentials` for API "
        "clients, with `client_id` and `client_secret` as HTTP Basic or form fields, and "
        "optionally `scope` to ask for fewer of the client's scopes. A password login that "
        "needs a second factor answers 401 `auth.mfa_required` with an `mfa_token`; send it "
        f"back with grant `{MFA_GRANT}` and an `otp` or a `recovery_code`."
    ),
)
async def issue_token(
    request: Request,
    session: Session,
    runtime: RuntimeDep,
    response: Response,
    grant_type: Annotated[
        Literal[
            "password",
            "refresh_token",
            "client_credentials",
            "urn:pd-prime:params:oauth:grant-type:mfa",
        ],
        Form(),
    ],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_client_basic)],
    username: Annotated[str | None, Form(max_length=320)] = None,
    password: Annotated[str | None, Form(max_length=256)] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
    client_id: Annotated[str | None, Form(max_length=100)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[str, Form(max_length=400)] = "",
    mfa_token: Annotated[str | None, Form(max_length=200)] = None,
    otp: Annotated[str | None, Form(max_length=20)] = None,
    recovery_code: Annotated[str | None, Form(max_length=40)] = None,
) -> TokenResponse | Response:
    response.headers.update(_NO_STORE)
    if grant_type == "client_credentials":
        ident, secret = _client_credentials(basic, client_id, client_secret)
        issued = handle_result(
            await clients.issue_client_token(
                session, runtime, client_id=ident, client_secret=secret, scope=scope
            )
        )
        return TokenResponse(
            access_token=issued.access_token, expires_in=issued.expires_in, scope=issued.scope
        )
    if grant_type == "password":
        if not username or not password:
            fail(invalid("auth.missing_credentials", "username and password are required"))
        tokens = handle_result(
            await service.login(
                session, runtime, email=username, password=password, client=caller(request)
            )
        )
    elif grant_type == MFA_GRANT:
        if not mfa_token:
            fail(invalid("auth.missing_mfa_token", "mfa_token is required"))
        tokens = handle_result(
            await service.login_second_factor(
                session,
                runtime,
                mfa_token=mfa_token,
                otp=otp,
                recovery_code=recovery_code,
                client=caller(request),
            )
        )
    else:
        if not refresh_token:
            fail(invalid("auth.missing_refresh_token", "refresh_token is required"))
        outcome = handle_result(
            await service.refresh(session, runtime, refresh_token=refresh_token)
        )
        if isinstance(outcome, service.RefreshReuse):
            # Returned, not raised: the session revocation (or the suspicion's record) commits.
            refused = service.REFRESH_REUSED if outcome.revoked else service.REFRESH_SUPERSEDED
            return domain_error_response(refused, instance="/api/v1/auth/token")
        tokens = outcome
    return TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
    )


@router.post(
    "/auth/revoke",
    status_code=status.HTTP_200_OK,
    responses=problem_responses(422, 429, 503),
    summary="Revoke a refresh or access token: its login session ends (RFC 7009)",
    description=(
        "A refresh token, or the access token of a login session: the whole session ends, its "
        "access tokens stop working at once. `token_type_hint` is optional and not needed. "
        "Unknown, invalid or expired tokens answer 200 too. An API client's access token or "
        "an API key answers 422 `auth.unsupported_token_type`: revoke the client or the key."
    ),
)
async def revoke_token(
    session: Session,
    runtime: RuntimeDep,
    response: Response,
    token: Annotated[str, Form(max_length=4096)],
    token_type_hint: Annotated[str | None, Form(max_length=50)] = None,
) -> dict[str, str]:
    response.headers.update(_NO_STORE)
    handle_result(await service.revoke(session, runtime, token=token))
    return {"status": "revoked"}


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 409),
    summary="End the current login session; its access and refresh tokens stop working",
)
async def log_out(
    session: Session,
    authenticated: Annotated[service.Authenticated, Depends(current_authentication)],
) -> None:
    if authenticated.session_id is None:
        fail(
            conflict(
                "auth.no_login_session",
                "an API client's token has no login session; revoke the client instead",
            )
        )
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
        # An API client's token reads as its owner, with the client's narrower permissions.
        permissions=sorted(actor.permissions),
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


@router.post(
    "/api-clients",
    response_model=ApiClientRegistered,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(401, 403, 422),
    summary="Register an API client for a staff user; its secret is shown once (admins only)",
)
async def register_api_client(
    body: ApiClientCreate,
    session: Session,
    response: Response,
    runtime: RuntimeDep,
    actor: Annotated[Actor, Depends(require(Permission.USERS_MANAGE))],
) -> ApiClientRegistered:
    registered = handle_result(
        await clients.register_client(
            session,
            name=body.name,
            owner_id=body.owner_id,
            scopes=list(body.scopes),
            actor=actor,
            client_type=body.client_type,
            redirect_uris=body.redirect_uris,
            grant_types=body.grant_types,
            token_endpoint_auth_method=body.token_endpoint_auth_method,
            id_token_signed_response_alg=body.id_token_signed_response_alg,
            id_token_algs=runtime.signer.id_token_algorithms,
        )
    )
    response.headers.update(_NO_STORE)
    response.headers["Location"] = f"/api/v1/api-clients/{registered.client.id}"
    return ApiClientRegistered(
        **ApiClientRead.model_validate(registered.client).model_dump(),
        client_secret=registered.secret,
    )


@router.get(
    "/api-clients",
    response_model=ApiClientPage,
    responses=problem_responses(401, 403, 422),
    summary="List API clients, revoked ones included (admins only)",
)
async def list_api_clients(
    session: Session,
    _: Annotated[Actor, Depends(require(Permission.USERS_READ))],
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ApiClientPage:
    found, next_cursor = handle_result(
        await clients.list_clients(session, cursor=cursor, limit=limit)
    )
    return ApiClientPage(
        items=[ApiClientRead.model_validate(c) for c in found], next_cursor=next_cursor
    )


@router.post(
    "/api-clients/{client_id}/revocation",
    response_model=ApiClientRead,
    responses=problem_responses(401, 403, 404),
    summary="Revoke an API client: its tokens stop working at once (admins only)",
)
async def revoke_api_client(
    client_id: uuid.UUID,
    session: Session,
    actor: Annotated[Actor, Depends(require(Permission.USERS_MANAGE))],
) -> ApiClientRead:
    return ApiClientRead.model_validate(
        handle_result(await clients.revoke_client(session, client_id, actor=actor))
    )
