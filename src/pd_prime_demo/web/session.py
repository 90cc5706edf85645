"""The console's cookie session and its CSRF token.

Signing in is the identity service's login (its throttles, MFA, demo and verification rules,
``auth.login`` audit) and, when the account has one, its second step: the login session it
opens is the browser's session. The cookie is a signed token (``web-session+jwt``, so never an
access token) naming that login session, HttpOnly, SameSite=Lax, Secure and ``__Host-``
outside demo and development (which serve plain http on a laptop). Every request checks that
the login session is still live (logout, "log out everywhere", deactivation end it at once).

CSRF (OWASP's synchronizer token pattern): a random token is fixed in the signed cookie when
the session opens; every form carries it in a hidden field and htmx sends it in a header
(``X-CSRF-Token``); a POST without the session's token is refused. The sign-in form, which
has no session yet, uses a double-submit cookie instead (a random cookie and the same value in
the form: a cross-site page can set neither).
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.config import Environment, Settings
from pd_prime_demo.core.result_types import DomainError, Ok, Result
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import service as identity

_TYP = "web-session+jwt"
_AUDIENCE = "pd-prime-web"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


def secure_cookies(settings: Settings) -> bool:
    """Demo and development serve plain http on a laptop: a Secure cookie would never come
    back there. Everywhere else the cookies are Secure (and ``__Host-``: this origin only)."""
    return settings.env not in (Environment.DEMO, Environment.DEVELOPMENT)


def session_cookie(settings: Settings) -> str:
    return "__Host-pdp-console" if secure_cookies(settings) else "pdp-console"


def login_csrf_cookie(settings: Settings) -> str:
    return "__Host-pdp-console-login" if secure_cookies(settings) else "pdp-console-login"


@dataclass(frozen=True, slots=True)
class Staff:
    """Who is signed in to the console: the same Actor the API builds from a token."""

    actor: Actor
    user_id: uuid.UUID
    session_id: uuid.UUID
    email: str
    full_name: str
    csrf: str


async def opened(
    session: AsyncSession, rt: Runtime, tokens: identity.TokenPair
) -> tuple[uuid.UUID, datetime, str]:
    """The login session the identity service just opened (its id and absolute end), and the
    signed cookie that names it."""
    authenticated = await identity.authenticate_access_token(session, rt, tokens.access_token)
    assert isinstance(authenticated, Ok)  # just opened
    assert authenticated.value.session_id is not None
    session_id = authenticated.value.session_id
    login = await session.get(identity.AuthSession, session_id)
    assert login is not None  # just opened
    claims = {
        "iss": rt.settings.jwt_issuer,
        "aud": _AUDIENCE,
        "sub": str(login.user_id),
        "sid": str(session_id),
        "csrf": secrets.token_urlsafe(32),
        "exp": int(login.expires_at.timestamp()),
    }
    return session_id, login.expires_at, rt.signer.sign(claims, typ=_TYP)


def set_session_cookie(response: Response, settings: Settings, cookie: str, ends: datetime) -> None:
    max_age = max(0, int((ends - clock.now()).total_seconds()))
    response.set_cookie(
        session_cookie(settings),
        cookie,
        max_age=max_age,
        path="/",
        secure=secure_cookies(settings),
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        session_cookie(settings),
        path="/",
        secure=secure_cookies(settings),
        httponly=True,
        samesite="lax",
    )


def _claims(rt: Runtime, cookie: str | None) -> dict[str, object] | None:
    verified = rt.signer.verify(cookie) if cookie else None
    if verified is None or verified.header.get("typ") != _TYP:
        return None
    claims = dict(verified.claims)
    try:
        fresh = int(str(claims["exp"])) > clock.now().timestamp()
    except (KeyError, ValueError):
        return None
    if not fresh or claims.get("aud") != _AUDIENCE or claims.get("iss") != rt.settings.jwt_issuer:
        return None
    return claims


async def current_staff(session: AsyncSession, rt: Runtime, request: Request) -> Staff | None:
    """The signed-in user, while the login session the cookie names is live and the user is
    active (the checks ``identity.authenticate_access_token`` makes on every API request)."""
    claims = _claims(rt, request.cookies.get(session_cookie(rt.settings)))
    if claims is None:
        return None
    try:
        user_id, session_id = uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["sid"]))
        csrf = str(claims["csrf"])
    except (KeyError, ValueError):
        return None
    if session_id not in await identity.live_credentials(
        session, session_ids=[session_id], client_ids=[]
    ):
        return None
    match await identity.get_user(session, user_id):
        case Ok(user) if user.is_active:
            pass
        case _:
            return None
    if user.is_demo and not rt.settings.demo_accounts_allowed:
        return None  # a demo run's session ends when the platform leaves demo mode
    actor = identity.actor_for_user(user)
    if user.is_demo:
        actor = replace(actor, demo=True)
    return Staff(actor, user.id, session_id, user.email, user.full_name, csrf)


def csrf_ok(sent: str | None, expected: str) -> bool:
    return (
        bool(sent)
        and bool(expected)
        and hmac.compare_digest((sent or "").encode(), expected.encode())
    )


async def sent_csrf(request: Request) -> str | None:
    """The token a POST carries: htmx's header, else the form's hidden field."""
    if header := request.headers.get(CSRF_HEADER):
        return header
    form = await request.form()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else None


async def sign_in(
    session: AsyncSession, rt: Runtime, *, email: str, password: str, client: str
) -> Result[identity.TokenPair, DomainError]:
    """The password step; an account with a second factor answers ``auth.mfa_required``
    with the ``mfa_token`` the code step is asked with."""
    return await identity.login(session, rt, email=email, password=password, client=client)


async def second_factor(
    session: AsyncSession, rt: Runtime, *, mfa_token: str, code: str, client: str
) -> Result[identity.TokenPair, DomainError]:
    """The code step: a TOTP code (six digits) or, failing that, a recovery code."""
    code = code.strip()
    is_otp = code.isdigit() and len(code) in (6, 8)
    return await identity.login_second_factor(
        session,
        rt,
        mfa_token=mfa_token,
        otp=code if is_otp else None,
        recovery_code=None if is_otp else code,
        client=client,
    )


async def sign_out(session: AsyncSession, staff: Staff) -> Result[None, DomainError]:
    """End the login session (audited as ``auth.session_revoked``, reason logout)."""
    return await identity.logout_session(session, session_id=staff.session_id, actor=staff.actor)
