"""Password login and its second step (MFA), throttled per account and client address.

NIST SP 800-63B section 5.2.2: no account is ever locked (that would let anyone lock its
owner out); failures slow down only the (account, client address) pair that made them, with a
looser ceiling per account (``identity.throttle``). A wrong e-mail and a wrong password answer
alike, and an unknown e-mail costs the same password hash as a known one.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    ErrorKind,
    Ok,
    Result,
    forbidden,
    invalid,
    unauthenticated,
)
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.security_events import SecurityEventType as Security
from pd_prime_demo.core.security_events import security_event
from pd_prime_demo.core.telemetry import LOGIN_ATTEMPTS
from pd_prime_demo.identity import mfa, webauthn_ceremonies
from pd_prime_demo.identity.models import User
from pd_prime_demo.identity.sessions import TokenPair, actor_for_user, open_session
from pd_prime_demo.identity.throttle import Policy, Throttle

MFA_GRANT = "urn:pd-prime:params:oauth:grant-type:mfa"  # the token endpoint's second step
INVALID_CREDENTIALS = unauthenticated("auth.invalid_credentials", "e-mail or password is wrong")
DEMO_ACCOUNT_REFUSED = unauthenticated(
    "auth.demo_account", "demo accounts sign in only while the platform runs in demo mode"
)
EMAIL_UNVERIFIED = forbidden(
    "auth.email_unverified",
    "confirm your e-mail address first: follow the link in the message we sent you",
)
MISSING_OTP = invalid("auth.missing_otp", "send an otp or a recovery_code")


def login_policy(rt: Runtime) -> Policy:
    s = rt.settings
    return Policy(
        free=s.login_free_failures,
        base_seconds=s.login_delay_base_seconds,
        max_seconds=s.login_delay_max_seconds,
        window_seconds=s.login_failure_window_seconds,
        account_ceiling=s.login_account_ceiling,
        known_client_seconds=s.login_known_client_days * 86400,
    )


def mfa_policy(rt: Runtime) -> Policy:
    s = rt.settings
    return Policy(
        free=s.mfa_max_failures,
        base_seconds=s.login_delay_base_seconds,
        max_seconds=s.login_delay_max_seconds,
        window_seconds=s.login_failure_window_seconds,
        account_ceiling=s.login_account_ceiling,
        known_client_seconds=s.login_known_client_days * 86400,
    )


def _mfa_step(code: str, detail: str, token: str, methods: list[str]) -> DomainError:
    return DomainError(
        ErrorKind.UNAUTHENTICATED,
        code,
        detail,
        extra={
            "mfa_token": token,
            "mfa_methods": methods,
            "mfa_grant_type": MFA_GRANT,
        },
    )


async def login(
    session: AsyncSession, rt: Runtime, *, email: str, password: str, client: str = "unknown"
) -> Result[TokenPair, DomainError]:
    """The password grant. ``client`` is the caller's address (the throttle's pair)."""
    email = email.strip().lower()
    throttle = Throttle(rt.cache, login_policy(rt), "login", email, client)
    if refusal := await throttle.reserve():
        LOGIN_ATTEMPTS.labels("throttled").inc()
        security_event(Security.LOGIN_THROTTLED, retry_after=refusal.extra["retry_after"])
        return Err(refusal)
    user = await session.scalar(select(User).where(User.email == email))
    stored = user.password_hash if user else None
    ok = await to_thread.run_sync(rt.passwords.verify, stored, password)  # argon2: off the loop
    if user is None or not ok or not user.is_active:
        LOGIN_ATTEMPTS.labels("failed").inc()
        security_event(
            Security.LOGIN_FAILED,
            reason="unknown_account"
            if user is None
            else ("wrong_password" if not ok else "inactive_account"),
            user_id=user.id if user else None,
        )
        return Err(INVALID_CREDENTIALS)
    await throttle.succeeded()
    if user.is_demo and not rt.settings.demo_accounts_allowed:
        return Err(DEMO_ACCOUNT_REFUSED)
    if user.email_verified_at is None:
        return Err(EMAIL_UNVERIFIED)
    if await mfa.has_mfa(session, user.id):
        token = await mfa.issue_ticket(rt, user.id, "login")
        return Err(
            _mfa_step(
                "auth.mfa_required",
                "a second factor is needed: send the mfa_token with a code",
                token,
                await mfa.methods_of(session, user.id),
            )
        )
    # Demo accounts (published passwords, demo mode only) show the platform: MFA on them
    # would protect nothing and lock the showcase.
    if mfa.mfa_required(rt.settings, user.role) and not user.is_demo:
        token = await mfa.issue_ticket(rt, user.id, "enrol")
        return Err(
            _mfa_step(
                "auth.mfa_enrolment_required",
                "your role needs a second factor: set one up with the mfa_token at "
                "/api/v1/auth/mfa/totp/enrolment, which logs you in once confirmed",
                token,
                ["totp_enrolment"],
            )
        )
    if rt.passwords.needs_rehash(user.password_hash):
        user.password_hash = await to_thread.run_sync(rt.passwords.hash, password)
    _, tokens = await open_session(session, rt, user, method="password")
    LOGIN_ATTEMPTS.labels("succeeded").inc()
    return Ok(tokens)


class _Step(NamedTuple):
    """A second step under way: its ticket (taken), its throttle (reserved) and its user."""

    ticket: mfa.MfaTicket
    throttle: Throttle
    user: User


async def _open_step(
    session: AsyncSession,
    rt: Runtime,
    mfa_token: str,
    purpose: mfa.Purpose,
    client: str,
    *,
    refusal_fails: bool = False,
    reject: DomainError | None = None,
) -> Result[_Step, DomainError]:
    """Take the ticket, reserve the throttle (giving the ticket back, as a failure when
    ``refusal_fails``, if it refuses) and load the active user. ``reject``: an error found in
    the request itself, answered after the ticket is taken (and given back as a failure)."""
    ticket = await mfa.take_ticket(rt, mfa_token, purpose)
    if ticket is None:
        security_event(Security.MFA_FAILED, reason="invalid_mfa_token")
        return Err(mfa.INVALID_MFA_TOKEN)
    if reject is not None:
        await mfa.give_back(rt, mfa_token, ticket)
        return Err(reject)
    throttle = Throttle(rt.cache, mfa_policy(rt), "mfa", str(ticket.user_id), client)
    if refusal := await throttle.reserve():
        await mfa.give_back(rt, mfa_token, ticket, failed=refusal_fails)
        security_event(
            Security.MFA_THROTTLED,
            user_id=ticket.user_id,
            retry_after=refusal.extra["retry_after"],
        )
        return Err(refusal)
    user = await session.get(User, ticket.user_id)
    if user is None or not user.is_active:
        security_event(Security.MFA_FAILED, reason="invalid_mfa_token", user_id=ticket.user_id)
        return Err(mfa.INVALID_MFA_TOKEN)
    return Ok(_Step(ticket, throttle, user))


def _wrong_code(user: User, factor: str) -> None:
    security_event(Security.MFA_FAILED, reason="wrong_code", user_id=user.id, factor=factor)


async def login_second_factor(
    session: AsyncSession,
    rt: Runtime,
    *,
    mfa_token: str,
    otp: str | None,
    recovery_code: str | None,
    client: str = "unknown",
) -> Result[TokenPair, DomainError]:
    """The MFA grant: the ticket of a password login that passed, and a TOTP or recovery code."""
    missing = None if otp or recovery_code else MISSING_OTP
    match await _open_step(
        session, rt, mfa_token, "login", client, refusal_fails=True, reject=missing
    ):
        case Err() as err:
            return err
        case Ok(_Step(ticket, throttle, user)):
            pass
    if otp:
        passed = await mfa.check_otp(session, rt, user.id, otp)
        method = "otp"
    else:
        passed = await mfa.check_recovery_code(session, user.id, recovery_code or "")
        method = "recovery_code"
    if not passed:
        await mfa.give_back(rt, mfa_token, ticket)
        _wrong_code(user, method)
        return Err(mfa.INVALID_CODE)
    await throttle.succeeded()
    return Ok(await complete_mfa_login(session, rt, user, method=method))


async def login_with_passkey(
    session: AsyncSession,
    rt: Runtime,
    *,
    mfa_token: str,
    credential: dict[str, Any],
    client: str = "unknown",
) -> Result[TokenPair, DomainError]:
    """The MFA step by a passkey: the assertion for the challenge issued to this mfa_token."""
    match await _open_step(session, rt, mfa_token, "login", client):
        case Err() as err:
            return err
        case Ok(_Step(ticket, throttle, user)):
            pass
    if not await webauthn_ceremonies.check_assertion(
        session, rt, user.id, mfa_token=mfa_token, credential=credential
    ):
        await mfa.give_back(rt, mfa_token, ticket)
        _wrong_code(user, "webauthn")
        return Err(webauthn_ceremonies.INVALID_ASSERTION)
    await throttle.succeeded()
    return Ok(await complete_mfa_login(session, rt, user, method="webauthn"))


async def complete_mfa_login(
    session: AsyncSession, rt: Runtime, user: User, *, method: str
) -> TokenPair:
    _, tokens = await open_session(session, rt, user, method=f"mfa:{method}")
    if method == "recovery_code":
        await audit.record(
            session, actor_for_user(user), "mfa.recovery_code_used", "user", str(user.id)
        )
    LOGIN_ATTEMPTS.labels("succeeded").inc()
    return tokens


async def begin_enrolment_with_ticket(
    session: AsyncSession, rt: Runtime, *, mfa_token: str
) -> Result[mfa.TotpEnrolment, DomainError]:
    """First step of a required enrolment: a TOTP secret for the user the ticket names (the
    ticket stays usable for the confirmation)."""
    ticket = await mfa.take_ticket(rt, mfa_token, "enrol")
    if ticket is None:
        security_event(Security.MFA_FAILED, reason="invalid_mfa_token")
        return Err(mfa.INVALID_MFA_TOKEN)
    user = await session.get(User, ticket.user_id)
    if user is None or not user.is_active:
        security_event(Security.MFA_FAILED, reason="invalid_mfa_token", user_id=ticket.user_id)
        return Err(mfa.INVALID_MFA_TOKEN)
    await mfa.give_back(rt, mfa_token, ticket, failed=False)
    return await mfa.begin_totp(session, rt, user)


async def confirm_enrolment_with_ticket(
    session: AsyncSession, rt: Runtime, *, mfa_token: str, otp: str, client: str = "unknown"
) -> Result[tuple[list[str], TokenPair], DomainError]:
    """Second step: the first code confirms the authenticator and logs the user in."""
    match await _open_step(session, rt, mfa_token, "enrol", client):
        case Err() as err:
            return err
        case Ok(_Step(ticket, throttle, user)):
            pass
    match await mfa.confirm_totp(session, rt, user, otp, actor=actor_for_user(user)):
        case Err(error) as err:
            await mfa.give_back(rt, mfa_token, ticket)
            if error.code == mfa.INVALID_CODE.code:
                _wrong_code(user, "otp")
            return err
        case Ok(codes):
            pass
    await throttle.succeeded()
    return Ok((codes, await complete_mfa_login(session, rt, user, method="otp")))
