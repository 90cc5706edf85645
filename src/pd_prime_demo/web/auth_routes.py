"""Signing in to the console and out of it: the identity service's password login, its
second step when the account has a factor, and logout (the login session is revoked)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pd_prime_demo.api.dependencies import RuntimeDep, Session
from pd_prime_demo.api.rate_limit import login_type_limit
from pd_prime_demo.api.response_patterns import STATUS_BY_KIND, ProblemError
from pd_prime_demo.core.result_types import DomainError, Err, Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity.caller import caller
from pd_prime_demo.web import pages
from pd_prime_demo.web.deps import CSRF_REFUSED, LOGIN, LOGOUT, StaffDep
from pd_prime_demo.web.session import (
    CSRF_FIELD,
    clear_session_cookie,
    csrf_ok,
    login_csrf_cookie,
    opened,
    second_factor,
    secure_cookies,
    set_session_cookie,
    sign_in,
    sign_out,
)

router = APIRouter(include_in_schema=False)
_MAX = 500  # longer than any e-mail, password or code: refused before it is hashed


def _then(value: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if value and value.startswith("/app") and not value.startswith("//") and "\\" not in value:
        return value
    return "/app"


def _form_page(
    request: Request,
    rt: Runtime,
    *,
    then: str,
    email: str = "",
    problem: pages.Message | None = None,
    mfa_token: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = pages.render(
        request,
        "app/login.html",
        {
            "staff": None,
            "csrf_token": token,
            "then": then,
            "email": email,
            "problem": problem,
            "mfa_token": mfa_token,
        },
        status=status,
    )
    secure = secure_cookies(rt.settings)
    response.set_cookie(
        login_csrf_cookie(rt.settings),
        token,
        max_age=1800,
        path="/",
        secure=secure,
        httponly=True,
        samesite="strict",
    )
    return response


@router.get(LOGIN, response_class=HTMLResponse)
async def login_page(request: Request, runtime: RuntimeDep, then: str | None = None) -> Response:
    return _form_page(request, runtime, then=_then(then))


def _one(form: dict[str, str], name: str) -> str:
    return form.get(name, "")[:_MAX]


@router.post(LOGIN, response_class=HTMLResponse)
async def sign_in_to_console(request: Request, session: Session, runtime: RuntimeDep) -> Response:
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    then = _then(form.get("then"))
    try:  # limited as a login, like the token endpoint; the refusal is a page here
        await login_type_limit(request)
    except ProblemError as refusal:
        message = pages.message_of(refusal.error)
        status = STATUS_BY_KIND[refusal.error.kind]  # 429, or 503 with the limiter down
        page = _form_page(request, runtime, then=then, problem=message, status=status)
        page.headers.update(refusal.headers)
        if "retry_after" in refusal.error.extra:
            page.headers["Retry-After"] = str(refusal.error.extra["retry_after"])
        return page
    if not csrf_ok(
        form.get(CSRF_FIELD), request.cookies.get(login_csrf_cookie(runtime.settings), "")
    ):
        return _refused_form(request, runtime, then)
    client = caller(request)
    if mfa_token := _one(form, "mfa_token"):
        result = await second_factor(
            session, runtime, mfa_token=mfa_token, code=_one(form, "code"), client=client
        )
    else:
        result = await sign_in(
            session,
            runtime,
            email=_one(form, "email"),
            password=_one(form, "password"),
            client=client,
        )
    match result:
        case Err(error):
            # The throttle counted the failure (in the cache): nothing in the database to keep.
            await session.rollback()
            return _form_page(
                request,
                runtime,
                then=then,
                email=_one(form, "email"),
                problem=_sign_in_message(error),
                mfa_token=_next_mfa_token(error, mfa_token),
                status=_status(error),
            )
        case Ok(tokens):
            pass
    _, ends, cookie = await opened(session, runtime, tokens)
    response = RedirectResponse(then, status_code=303)
    set_session_cookie(response, runtime.settings, cookie, ends)
    response.delete_cookie(
        login_csrf_cookie(runtime.settings),
        path="/",
        secure=secure_cookies(runtime.settings),
        httponly=True,
        samesite="strict",
    )
    return response


def _refused_form(request: Request, runtime: Runtime, then: str) -> HTMLResponse:
    message = pages.Message("Forbidden", CSRF_REFUSED.detail, CSRF_REFUSED.code)
    return _form_page(request, runtime, then=then, problem=message, status=403)


def _sign_in_message(error: DomainError) -> pages.Message:
    if error.code == "auth.mfa_required":
        return pages.Message(
            "Second factor", "Enter the code from your authenticator app.", error.code
        )
    if error.code == "auth.mfa_enrolment_required":
        return pages.Message(
            "Second factor needed",
            "Your role needs a second factor. Set one up with the API "
            "(/api/v1/auth/mfa/totp/enrolment), then sign in here.",
            error.code,
        )
    return pages.message_of(error)


def _status(error: DomainError) -> int:
    if error.code == "auth.mfa_required":
        return 200  # the next step of a sign-in that is going well
    return STATUS_BY_KIND[error.kind]


def _next_mfa_token(error: DomainError, sent: str) -> str | None:
    """The ticket the code step is asked with: a password step's new one, or the one a wrong
    code handed back (a used or expired ticket starts again from the password)."""
    if error.code == "auth.mfa_required":
        return str(error.extra["mfa_token"])
    return sent if sent and error.code != "auth.invalid_mfa_token" else None


@router.post(LOGOUT, response_class=HTMLResponse)
async def sign_out_of_console(session: Session, runtime: RuntimeDep, staff: StaffDep) -> Response:
    await sign_out(session, staff)  # Err only for a session that is not the actor's own
    response = RedirectResponse(LOGIN, status_code=303)
    clear_session_cookie(response, runtime.settings)
    return response
