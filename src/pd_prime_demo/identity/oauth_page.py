"""The authorization page (OAuth 2.1 authorization endpoint): server-rendered HTML (Jinja2, no
script, no inline style), its form posts guarded by a CSRF token (double submit: a ``__Host-``
cookie, SameSite=Strict, and a hidden field, compared in constant time). The user signs in
with the identity service's login and, when the account has one, its second factor."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.response_patterns import problem_responses
from pd_prime_demo.core.result_types import DomainError, Err, ErrorKind, Ok, Result
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import oauth, oauth_sign_in, oidc
from pd_prime_demo.identity.caller import caller
from pd_prime_demo.identity.oauth_rules import OidcScope

router = APIRouter(tags=["oauth"])
BASE = oidc.OAUTH_PATH
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAX_VALUE = 2000
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

CSRF_COOKIE = "__Host-pdp-oauth-csrf"
SIGN_IN_COOKIE = "__Host-pdp-oauth-sign-in"
_SCOPE_LABELS = {
    OidcScope.OPENID: "know who you are (your user id)",
    OidcScope.PROFILE: "read your name",
    OidcScope.EMAIL: "read your e-mail address",
    OidcScope.ROLES: "read your role at PD Prime",
}
_HTML_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The request is refused (an HTML page)", "content": {"text/html": {}}},
    303: {"description": "Back to the client's redirect URI, with a code or an error"},
    **problem_responses(429),
}


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
    mfa_token: str | None = None,
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
            "mfa_token": mfa_token,
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
    who = await oauth_sign_in.signed_in(session, runtime, request.cookies.get(SIGN_IN_COOKIE))
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
    who = await oauth_sign_in.signed_in(session, runtime, request.cookies.get(SIGN_IN_COOKIE))
    new_sign_in = None
    if who is None:
        match await _sign_in(request, session, runtime, values):
            case Err(error):
                # The failure is kept (the unit of work commits): the throttles count it.
                return _consent_page(
                    request,
                    authorization,
                    signed_in=False,
                    message=error.detail,
                    email=_one(values, "email"),
                    mfa_token=_next_mfa_token(error, values),
                    status=_SIGN_IN_STATUS.get(error.kind, 401),
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


_SIGN_IN_STATUS = {ErrorKind.RATE_LIMITED: 429, ErrorKind.FORBIDDEN: 403}


def _one(values: dict[str, list[str]], name: str) -> str:
    return (values.get(name) or [""])[0]


async def _sign_in(
    request: Request, session: Session, runtime: RuntimeDep, values: dict[str, list[str]]
) -> Result[oauth_sign_in.SignedIn, DomainError]:
    """The password, or (with the mfa_token the password step answered) the second factor."""
    client = caller(request)
    if mfa_token := _one(values, "mfa_token"):
        return await oauth_sign_in.second_factor(
            session,
            runtime,
            mfa_token=mfa_token,
            otp=_one(values, "otp") or None,
            recovery_code=_one(values, "recovery_code") or None,
            client=client,
        )
    return await oauth_sign_in.sign_in(
        session,
        runtime,
        email=_one(values, "email"),
        password=_one(values, "password"),
        client=client,
    )


def _next_mfa_token(error: DomainError, values: dict[str, list[str]]) -> str | None:
    """The ticket the page asks the second factor with: a password step's new one, or the one
    a wrong code handed back (a used or expired ticket starts again from the password)."""
    if error.code == "auth.mfa_required":
        return str(error.extra["mfa_token"])
    sent = _one(values, "mfa_token")
    return sent if sent and error.code != "auth.invalid_mfa_token" else None
