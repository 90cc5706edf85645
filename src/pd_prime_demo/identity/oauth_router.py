"""The OAuth 2.1 / OpenID Connect provider's endpoints: the token endpoint, revocation and
introspection here, the authorization page (oauth_page) and OpenID Connect's (oidc_router).

The token, revocation and introspection endpoints answer errors per RFC 6749 §5.2
(400, or 401 for a client that failed to authenticate) as problem documents that also carry
``error`` and ``error_description``, so both OAuth libraries and RFC 9457 readers understand.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Depends, Form, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.response_patterns import problem_response, problem_responses
from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, Ok, Result
from pd_prime_demo.identity import clients, oauth, oauth_tokens, oidc
from pd_prime_demo.identity import service as identity
from pd_prime_demo.identity.models import ApiClient
from pd_prime_demo.identity.oauth_page import router as page_router
from pd_prime_demo.identity.oauth_rules import AuthMethod, GrantType
from pd_prime_demo.identity.oidc_router import router as oidc_router
from pd_prime_demo.identity.schemas import (
    IntrospectionRead,
    OAuthTokenResponse,
)
from pd_prime_demo.identity.sso_router import router as sso_router

router = APIRouter(tags=["oauth"])
BASE = oidc.OAUTH_PATH
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAX_VALUE = 2000
_client_basic = HTTPBasic(auto_error=False, description="A client's id and secret.")


def _oauth_problem(
    error: DomainError, path: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """RFC 6749 §5.2 as a problem document: 400, or 401 for a client's failed authentication."""
    status = {ErrorKind.UNAUTHENTICATED: 401, ErrorKind.RATE_LIMITED: 429}.get(error.kind, 400)
    extra = {
        "error": error.extra.get("error", "invalid_request"),
        "error_description": error.detail,
    }
    all_headers = {**_NO_STORE, **(headers or {})}
    if status == 401:
        all_headers["WWW-Authenticate"] = 'Basic realm="pd-prime-oauth"'
    return problem_response(
        status=status,
        code=error.code,
        detail=error.detail,
        instance=path,
        headers=all_headers,
        extra=extra,
    )


async def _authenticated_client(
    session: Session,
    basic: HTTPBasicCredentials | None,
    client_id: str | None,
    client_secret: str | None,
) -> ApiClient | DomainError:
    """RFC 6749 §2.3.1: HTTP Basic (each part form-encoded first) or the form, not both, and
    the way the client registered (RFC 7591 §2 token_endpoint_auth_method), no other."""
    used = AuthMethod.CLIENT_SECRET_POST if client_secret else AuthMethod.NONE
    if basic is not None:
        if (client_id is not None and client_id != unquote_plus(basic.username)) or client_secret:
            return oauth.oauth_error("invalid_request", "client credentials sent twice")
        client_id, client_secret = unquote_plus(basic.username), unquote_plus(basic.password)
        used = AuthMethod.CLIENT_SECRET_BASIC
    if not client_id:
        return clients.INVALID_CLIENT
    match await clients.authenticate_oauth_client(
        session, client_id=client_id, client_secret=client_secret
    ):
        case Ok(client) if client.token_endpoint_auth_method == used:
            return client
        case Ok():
            return clients.INVALID_CLIENT
        case Err(error):
            return error
    raise AssertionError("unreachable")  # pragma: no cover


async def _client(
    session: Session,
    basic: HTTPBasicCredentials | None,
    client_id: str | None,
    client_secret: str | None,
) -> ApiClient | DomainError:
    """The authenticated client, or the error; a failed authentication is a security event."""
    outcome = await _authenticated_client(session, basic, client_id, client_secret)
    if isinstance(outcome, DomainError) and outcome.code == clients.INVALID_CLIENT.code:
        return _refused(client_id or (unquote_plus(basic.username) if basic else None))
    return outcome


def _refused(client_id: str | None) -> DomainError:
    try:
        ident = uuid.UUID(client_id) if client_id else None
    except ValueError:
        ident = None  # not an id: whatever the caller wrote is not logged
    return clients.refused_client(ident).error


_Form = Annotated[str | None, Form(max_length=_MAX_VALUE)]


@router.post(
    f"{BASE}/token",
    response_model=OAuthTokenResponse,
    response_model_exclude_none=True,
    responses=problem_responses(400, 401, 429),
    summary="Redeem a code, refresh, or get a client credentials token (token endpoint)",
)
async def issue_oauth_token(
    session: Session,
    runtime: RuntimeDep,
    response: Response,
    grant_type: Annotated[str, Form(max_length=100)],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_client_basic)],
    code: _Form = None,
    redirect_uri: _Form = None,
    code_verifier: _Form = None,
    refresh_token: _Form = None,
    scope: _Form = None,
    client_id: _Form = None,
    client_secret: _Form = None,
) -> OAuthTokenResponse | Response:
    path = f"{BASE}/token"
    response.headers.update(_NO_STORE)
    client = await _client(session, basic, client_id, client_secret)
    if isinstance(client, DomainError):
        return _oauth_problem(client, path)
    outcome: Result[oauth.Granted | oauth.CodeReplayed | identity.RefreshReuse, DomainError]
    if grant_type == GrantType.AUTHORIZATION_CODE:
        if not code:
            return _oauth_problem(oauth.oauth_error("invalid_request", "code is required"), path)
        outcome = await oauth.redeem_code(
            session,
            runtime,
            client,
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
        )
    elif grant_type == GrantType.REFRESH_TOKEN:
        if not refresh_token:
            error = oauth.oauth_error("invalid_request", "refresh_token is required")
            return _oauth_problem(error, path)
        outcome = await oauth_tokens.refresh_grant(
            session, runtime, client, refresh_token=refresh_token, scope=scope or ""
        )
    elif grant_type == GrantType.CLIENT_CREDENTIALS:
        issued = await clients.issue_client_token(
            session,
            runtime,
            client_id=str(client.id),
            client_secret=client_secret or (unquote_plus(basic.password) if basic else ""),
            scope=scope or "",
        )
        match issued:
            case Err(error):
                await session.rollback()
                return _oauth_problem(error, path)
            case Ok(token):
                return OAuthTokenResponse(
                    access_token=token.access_token, expires_in=token.expires_in, scope=token.scope
                )
    else:
        error = oauth.oauth_error("unsupported_grant_type", f"unsupported grant: {grant_type}")
        return _oauth_problem(error, path)
    match outcome:
        case Err(error):
            await session.rollback()
            return _oauth_problem(error, path)
        case Ok(oauth.CodeReplayed()):  # the revocation commits
            return _oauth_problem(oauth.INVALID_GRANT, path)
        case Ok(identity.RefreshReuse()):
            return _oauth_problem(oauth_tokens.INVALID_REFRESH_GRANT, path)
        case Ok(oauth.Granted() as granted):
            return OAuthTokenResponse(
                access_token=granted.access_token,
                expires_in=granted.expires_in,
                refresh_token=granted.refresh_token,
                scope=granted.scope,
                id_token=granted.id_token,
            )
    raise AssertionError("unreachable")  # pragma: no cover


@router.post(
    f"{BASE}/revoke",
    response_model=None,
    status_code=200,
    responses=problem_responses(400, 401),
    summary="Revoke a client's refresh or access token and its authorization (RFC 7009)",
)
async def revoke_oauth_token(
    session: Session,
    runtime: RuntimeDep,
    token: Annotated[str, Form(max_length=_MAX_VALUE)],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_client_basic)],
    token_type_hint: Annotated[str | None, Form(max_length=50)] = None,
    client_id: _Form = None,
    client_secret: _Form = None,
) -> Response:
    path = f"{BASE}/revoke"
    client = await _client(session, basic, client_id, client_secret)
    if isinstance(client, DomainError):
        return _oauth_problem(client, path)
    match await oauth_tokens.revoke(session, runtime, client, token=token):
        case Err(error):
            await session.rollback()
            return _oauth_problem(error, path)
        case Ok():
            return Response(status_code=200, headers=_NO_STORE)
    raise AssertionError("unreachable")  # pragma: no cover


@router.post(
    f"{BASE}/introspect",
    response_model=IntrospectionRead,
    response_model_exclude_none=True,
    responses=problem_responses(400, 401),
    summary="Introspect one of the client's tokens (RFC 7662; confidential clients only)",
)
async def introspect_token(
    session: Session,
    runtime: RuntimeDep,
    response: Response,
    token: Annotated[str, Form(max_length=_MAX_VALUE)],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_client_basic)],
    token_type_hint: Annotated[str | None, Form(max_length=50)] = None,
    client_id: _Form = None,
    client_secret: _Form = None,
) -> IntrospectionRead | Response:
    path = f"{BASE}/introspect"
    client = await _client(session, basic, client_id, client_secret)
    if isinstance(client, DomainError):
        return _oauth_problem(client, path)
    if client.secret_hash is None:  # RFC 7662 §2.1: the caller must be authenticated
        return _oauth_problem(_refused(str(client.id)), path)
    response.headers.update(_NO_STORE)
    return IntrospectionRead.model_validate(
        await oauth_tokens.introspect(session, runtime, client, token=token)
    )


router.include_router(page_router)
router.include_router(oidc_router)
router.include_router(sso_router)
