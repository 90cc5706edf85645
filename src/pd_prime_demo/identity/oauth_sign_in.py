"""Signing in at the authorization page: the identity service's login, then its second step.

The password and the second factor are checked by ``identity.service.login`` and
``login_second_factor`` (their throttling, MFA requirement, demo and verification rules), never
here. The login session they open becomes the browser's sign-in at the provider: its tokens
are never handed out; a short-lived signed cookie names the session instead (typed
``sign-in+jwt``, so that it is no access token), and each use checks the session is live.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.core import clock
from pd_prime_demo.core.result_types import DomainError, Err, Ok, Result
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import service as identity
from pd_prime_demo.identity.models import AuthSession
from pd_prime_demo.identity.oauth_rules import amr_of

_AUDIENCE = "pd-prime-oauth-sign-in"
_TYP = "sign-in+jwt"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The browser's sign-in at the authorization page: a login session of the user."""

    user_id: uuid.UUID
    session_id: uuid.UUID
    auth_time: datetime
    amr: tuple[str, ...]
    cookie: str  # signed (not an access token), held in an HttpOnly cookie


async def sign_in(
    session: AsyncSession, rt: Runtime, *, email: str, password: str, client: str
) -> Result[SignedIn, DomainError]:
    """A password login. When the account has a second factor, the Err is the identity
    service's ``auth.mfa_required`` with its ``mfa_token``, for :func:`second_factor`."""
    match await identity.login(session, rt, email=email, password=password, client=client):
        case Err() as err:
            return err
        case Ok(tokens):
            return Ok(await _signed_in(session, rt, tokens.access_token))
    raise AssertionError("unreachable")  # pragma: no cover


async def second_factor(
    session: AsyncSession,
    rt: Runtime,
    *,
    mfa_token: str,
    otp: str | None,
    recovery_code: str | None,
    client: str,
) -> Result[SignedIn, DomainError]:
    match await identity.login_second_factor(
        session, rt, mfa_token=mfa_token, otp=otp, recovery_code=recovery_code, client=client
    ):
        case Err() as err:
            return err
        case Ok(tokens):
            return Ok(await _signed_in(session, rt, tokens.access_token))
    raise AssertionError("unreachable")  # pragma: no cover


async def _signed_in(session: AsyncSession, rt: Runtime, access_token: str) -> SignedIn:
    verified = rt.signer.verify(access_token)
    assert verified is not None  # just signed
    user_id = uuid.UUID(str(verified.claims["sub"]))
    session_id = uuid.UUID(str(verified.claims["sid"]))
    login = await session.get(AuthSession, session_id)
    assert login is not None  # just opened
    amr = amr_of(login.method)
    now = clock.now()
    cookie = rt.signer.sign(
        {
            "iss": rt.settings.oauth_issuer,
            "aud": _AUDIENCE,
            "sub": str(user_id),
            "sid": str(session_id),
            "auth_time": int(now.timestamp()),
            "amr": list(amr),
            "exp": int(now.timestamp()) + rt.settings.oauth_sign_in_ttl_seconds,
        },
        typ=_TYP,
    )
    return SignedIn(user_id, session_id, now, amr, cookie)


async def signed_in(session: AsyncSession, rt: Runtime, cookie: str | None) -> SignedIn | None:
    """The sign-in a cookie names, while it is fresh and its login session is live."""
    verified = rt.signer.verify(cookie) if cookie else None
    if verified is None or verified.header.get("typ") != _TYP or cookie is None:
        return None
    claims = verified.claims
    try:
        fresh = int(claims["exp"]) > clock.now().timestamp()
        user_id, session_id = uuid.UUID(str(claims["sub"])), uuid.UUID(str(claims["sid"]))
        auth_time = datetime.fromtimestamp(int(claims["auth_time"]), UTC)
        amr = tuple(str(a) for a in claims["amr"])
    except (KeyError, ValueError, TypeError):
        return None
    if not fresh or claims.get("aud") != _AUDIENCE:
        return None
    live = await identity.live_credentials(session, session_ids=[session_id], client_ids=[])
    return SignedIn(user_id, session_id, auth_time, amr, cookie) if live else None
