"""The OAuth 2.1 / OpenID Connect provider's endpoints, and its discovery documents.

The authorization page is server-rendered HTML (Jinja2, no script) with form posts guarded
by a CSRF token (double submit: a ``__Host-`` cookie and a hidden field, compared in constant
time). The token, revocation and introspection endpoints answer errors per RFC 6749 §5.2
(400, or 401 for a client that failed to authenticate) as problem documents that also carry
``error`` and ``error_description``, so both OAuth libraries and RFC 9457 readers understand.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import unquote_plus, urlencode

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from fastapi.templating import Jinja2Templates

from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.response_patterns import problem_response, problem_responses
from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, Ok, Result
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import clients, oauth, oauth_tokens, oidc
from pd_prime_demo.identity import service as identity
from pd_prime_demo.identity.models import ApiClient
from pd_prime_demo.identity.oauth_rules import GrantType, OidcScope
from pd_prime_demo.identity.oidc_router import router as oidc_router
from pd_prime_demo.identity.schemas import (
    IntrospectionRead,
    OAuthTokenResponse,
)

router = APIRouter(tags=["oauth"])
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

BASE = oidc.OAUTH_PATH
CSRF_COOKIE = "__Host-pdp-oauth-csrf"
SIGN_IN_COOKIE = "__Host-pdp-oauth-sign-in"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAX_VALUE = 2000
_SCOPE_LABELS = {
    OidcScope.OPENID: "know who you are (your user id)",
    OidcScope.PROFILE: "read your name",
    OidcScope.EMAIL: "read your e-mail address",
}
_HTML_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The request is refused (an HTML page)", "content": {"text/html": {}}},
    303: {"description": "Back to the client's redirect URI, with a code or an error"},
    **problem_responses(429),
}
_client_basic = HTTPBasic(auto_error=False, description="A client's id and secret.")


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(_NO_STORE)
    response.headers["X-Frame-Options"] = "DENY"  # no clickjacking of the consent buttons
    return response


def _back_to_client(rt: Runtime, redirect_uri: str, values: dict[str, str]) -> RedirectResponse:
    # RFC 9207: the issuer goes back with the response, against mix-up attacks.
    query = urlencode({**values, "iss": rt.settings.oauth_issuer})
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(redirect_uri + sep + query, status_code=303, headers=_NO_STORE)


def _refused(request: Request, rt: Runtime, error: DomainError) -> Response:
    """RFC 6749 §4.1.2.1: to the client when its redirect URI is known good, else a page."""
    extra = error.extra
    if "redirect_uri" in extra:
        values = {"error": str(extra["error"]), "error_description": error.detail}
        if "state" in extra:
            values["state"] = str(extra["state"])
        return _back_to_client(rt, str(extra["redirect_uri"]), values)
    context = {"error": extra.get("error", "invalid_request"), "description": error.detail}
    return _page(request, "oauth/error.html", context, status=400)


def _consent_page(
    request: Request,
    authorization: oauth.AuthorizationRequest,
    *,
    signed_in: bool,
    message: str | None = None,
    email: str = "",
    status: int = 200,
) -> HTMLResponse:
    csrf = secrets.token_urlsafe(32)
    scopes = [
        (scope, _SCOPE_LABELS.get(scope, f"use the {scope} permission of your account"))  # type: ignore[call-overload]
        for scope in sorted(authorization.scope)
    ]
    response = _page(
        request,
        "oauth/authorize.html",
        {
            "ask": authorization,
            "params": sorted(authorization.as_params().items()),
            "scopes": scopes,
            "csrf_token": csrf,
            "signed_in": signed_in,
            "message": message,
            "email": email,
            "action": f"{BASE}/authorize",
        },
        status=status,
    )
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=1800, path="/", secure=True, httponly=True, samesite="strict"
    )
    return response


@router.get(
    f"{BASE}/authorize",
    response_class=HTMLResponse,
    responses=_HTML_ERRORS,
    summary="Ask the user to authorize a client (OAuth 2.1 authorization endpoint, PKCE S256)",
)
async def authorize(request: Request, session: Session, runtime: RuntimeDep) -> Response:
    params = {k: request.query_params.getlist(k) for k in request.query_params}
    match await oauth.check_authorization_request(session, params):
        case Err(error):
            return _refused(request, runtime, error)
        case Ok(authorization):
            pass
    who = await oauth.signed_in(session, runtime, request.cookies.get(SIGN_IN_COOKIE))
    return _consent_page(request, authorization, signed_in=who is not None)


@router.post(
    f"{BASE}/authorize",
    response_class=HTMLResponse,
    responses=_HTML_ERRORS,
    summary="Sign in and allow or deny the client (the authorization page's form)",
)
async def decide_authorization(request: Request, session: Session, runtime: RuntimeDep) -> Response:
    form = await request.form()
    values = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}
    if any(len(v) > _MAX_VALUE for vs in values.values() for v in vs):
        return _refused(
            request, runtime, oauth.oauth_error("invalid_request", "a value is too long")
        )
    sent = (values.get("csrf_token") or [""])[0]
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        error = oauth.oauth_error("invalid_request", "the form expired; start again")
        return _refused(request, runtime, error)
    match await oauth.check_authorization_request(session, values):
        case Err(error):
            return _refused(request, runtime, error)
        case Ok(authorization):
            pass
    back = {"state": authorization.state} if authorization.state is not None else {}
    decision = (values.get("decision") or [""])[0]
    if decision == "deny":
        denied = {"error": "access_denied", "error_description": "the user said no", **back}
        return _back_to_client(runtime, authorization.redirect_uri, denied)
    if decision != "allow":
        return _refused(request, runtime, oauth.oauth_error("invalid_request", "allow or deny"))
    who = await oauth.signed_in(session, runtime, request.cookies.get(SIGN_IN_COOKIE))
    new_sign_in = None
    if who is None:
        email = (values.get("email") or [""])[0]
        match await oauth.sign_in(
            session, runtime, email=email, password=(values.get("password") or [""])[0]
        ):
            case Err(error):
                # The failure is kept (the unit of work commits): throttling counts it.
                status = 429 if error.kind is ErrorKind.RATE_LIMITED else 401
                return _consent_page(
                    request,
                    authorization,
                    signed_in=False,
                    message=error.detail,
                    email=email,
                    status=status,
                )
            case Ok(who):
                new_sign_in = who.cookie
    code = await oauth.issue_code(session, runtime, authorization, who)
    response = _back_to_client(runtime, authorization.redirect_uri, {"code": code, **back})
    if new_sign_in is not None:
        response.set_cookie(
            SIGN_IN_COOKIE,
            new_sign_in,
            max_age=runtime.settings.oauth_sign_in_ttl_seconds,
            path="/",
            secure=True,
            httponly=True,
            samesite="lax",
        )
    response.delete_cookie(CSRF_COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


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


async def _client(
    session: Session,
    basic: HTTPBasicCredentials | None,
    client_id: str | None,
    client_secret: str | None,
) -> ApiClient | DomainError:
    """RFC 6749 §2.3.1: HTTP Basic (each part form-encoded first) or the form, not both."""
    if basic is not None:
        if (client_id is not None and client_id != unquote_plus(basic.username)) or client_secret:
            return oauth.oauth_error("invalid_request", "client credentials sent twice")
        client_id, client_secret = unquote_plus(basic.username), unquote_plus(basic.password)
    if not client_id:
        return clients.INVALID_CLIENT
    match await clients.authenticate_oauth_client(
        session, client_id=client_id, client_secret=client_secret
    ):
        case Ok(client):
            return client
        case Err(error):
            return error
    raise AssertionError("unreachable")  # pragma: no cover


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
        return _oauth_problem(clients.INVALID_CLIENT, path)
    response.headers.update(_NO_STORE)
    return IntrospectionRead.model_validate(
        await oauth_tokens.introspect(session, runtime, client, token=token)
    )


router.include_router(oidc_router)
