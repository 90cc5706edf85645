"""Password change and reset, e-mail verification and e-mail change, by single-use links.

A link token has 256 random bits and is stored only as its SHA-256 digest, with a purpose, a
short lifetime and the time it was used (once). Nothing here tells a caller whether an address
has an account: a reset for an unknown address answers as one for a known address, and a new
address already held by someone else is refused only when the link sent to it is followed (by
whoever reads that mailbox). Changing or resetting a password ends the user's other sessions.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Literal

from anyio import to_thread
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    conflict,
    invalid,
    unauthenticated,
)
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import mailbox
from pd_prime_demo.identity.login import login_policy
from pd_prime_demo.identity.mfa_models import EmailToken
from pd_prime_demo.identity.models import User
from pd_prime_demo.identity.rules import password_problems, token_digest
from pd_prime_demo.identity.sessions import revoke_all
from pd_prime_demo.identity.throttle import Throttle

TokenPurpose = Literal["verify", "reset", "email_change"]

INVALID_LINK = invalid(
    "auth.invalid_link_token", "this link is invalid, expired or was already used"
)
WRONG_PASSWORD = unauthenticated("auth.invalid_credentials", "the current password is wrong")


def _hello(user: User) -> str:
    """A name chosen at sign-up is never sent to an address nobody has confirmed: whoever
    signs up with someone else's address must not write the opening of a mail to it."""
    return f"Hello {user.full_name}," if user.email_verified_at is not None else "Hello,"


def weak_password(password: str, *, email: str, full_name: str) -> DomainError | None:
    if problems := password_problems(password, email=email, names=(full_name,)):
        return invalid(
            "user.weak_password",
            "the password is not acceptable",
            *(FieldIssue("#/password", p) for p in problems),
        )
    return None


def _link(rt: Runtime, page: str, token: str) -> str:
    """The token rides in the fragment: a browser never sends it to a server, so it stays out
    of access logs and Referer headers (the page reads ``location.hash`` and POSTs it)."""
    return f"{rt.settings.public_base_url.rstrip('/')}/account/{page}#token={token}"


async def _new_token(
    session: AsyncSession,
    rt: Runtime,
    user_id: uuid.UUID,
    purpose: TokenPurpose,
    *,
    ttl: int,
    new_email: str | None = None,
) -> str:
    """A fresh link token; earlier unused ones of the same purpose stop working."""
    now = clock.now()
    await session.execute(
        update(EmailToken)
        .where(
            EmailToken.user_id == user_id,
            EmailToken.purpose == purpose,
            EmailToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    token_id = uuid.uuid4()
    session.add(
        EmailToken(
            id=token_id,
            user_id=user_id,
            purpose=purpose,
            token_hash=token_digest(token),
            new_email_enc=(
                rt.cipher.encrypt(new_email, context=f"email_tokens.new_email:{token_id}")
                if new_email
                else None
            ),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    )
    await session.flush()
    return token


async def _spend(session: AsyncSession, token: str, purpose: TokenPurpose) -> EmailToken | None:
    stored = await session.scalar(
        select(EmailToken)
        .where(EmailToken.token_hash == token_digest(token), EmailToken.purpose == purpose)
        .with_for_update()
    )
    if stored is None or stored.used_at is not None or stored.expires_at <= clock.now():
        return None
    stored.used_at = clock.now()
    return stored


# --- e-mail verification (a self-registered login) ---


async def send_verification(session: AsyncSession, rt: Runtime, user: User) -> None:
    token = await _new_token(
        session, rt, user.id, "verify", ttl=rt.settings.email_token_ttl_seconds
    )
    await mailbox.queue_limited(
        session,
        rt,
        kind="verify",
        to=user.email,
        subject="Confirm your e-mail address",
        body=(
            "Hello,\n\nconfirm your e-mail address to start using PD Prime:\n\n"
            f"{_link(rt, 'verify-email', token)}\n\n(or POST token={token} to "
            "/api/v1/auth/email-verification). The link works once, for "
            f"{rt.settings.email_token_ttl_seconds // 3600} hours.\n\n"
            "If you did not sign up, ignore this message.\n"
        ),
    )


async def send_already_registered(session: AsyncSession, rt: Runtime, email: str) -> None:
    """Someone tried to sign up with an address that has an account: tell its owner only (a
    few times an hour at most, so sign-ups cannot flood the inbox)."""
    await mailbox.queue_limited(
        session,
        rt,
        kind="registered",
        to=email,
        subject="You already have a PD Prime account",
        body=(
            "Someone (perhaps you) tried to sign up for PD Prime with this e-mail address, "
            "which already has an account. If you forgot your password, reset it:\n\n"
            f"{rt.settings.public_base_url.rstrip('/')}/account/reset-password\n\n"
            "(or POST email=<this address> to /api/v1/auth/password-reset).\n\n"
            "If it was not you, ignore this message: nothing has changed.\n"
        ),
    )


async def verify_email(session: AsyncSession, rt: Runtime, token: str) -> Result[User, DomainError]:
    stored = await _spend(session, token, "verify")
    if stored is None:
        return Err(INVALID_LINK)
    user = await session.get(User, stored.user_id, with_for_update=True)
    assert user is not None  # foreign key
    if user.email_verified_at is None:
        user.email_verified_at = clock.now()
        await audit.record(
            session, Actor.system("email-verification"), "user.email_verified", "user", str(user.id)
        )
    return Ok(user)


# --- password change (signed in) and reset (by e-mail) ---


async def _check_current(rt: Runtime, user: User, password: str, client: str) -> DomainError | None:
    """The current password, under the login's throttle: a stolen session is no oracle for
    guessing it faster than the login would allow."""
    throttle = Throttle(rt.cache, login_policy(rt), "login", user.email, client)
    if refusal := await throttle.reserve():
        return refusal
    if not await to_thread.run_sync(rt.passwords.verify, user.password_hash, password):
        return WRONG_PASSWORD
    await throttle.succeeded()
    return None


async def change_password(
    session: AsyncSession,
    rt: Runtime,
    *,
    current_password: str,
    new_password: str,
    session_id: uuid.UUID | None,
    actor: Actor,
    client: str = "unknown",
) -> Result[int, DomainError]:
    """Needs the current password; ends every other session of the user (how many)."""
    user = await session.get(User, actor.user_id, with_for_update=True)
    if user is None:
        return Err(WRONG_PASSWORD)
    if refusal := await _check_current(rt, user, current_password, client):
        return Err(refusal)
    if problem := weak_password(new_password, email=user.email, full_name=user.full_name):
        return Err(problem)
    user.password_hash = await to_thread.run_sync(rt.passwords.hash, new_password)
    user.updated_at = clock.now()
    await audit.record(session, actor, "user.password_changed", "user", str(user.id))
    ended = await revoke_all(
        session, user.id, reason="password_changed", actor=actor, keep=session_id
    )
    await _notify_password_changed(session, rt, user)
    return Ok(ended)


async def _notify_password_changed(session: AsyncSession, rt: Runtime, user: User) -> None:
    await mailbox.queue_limited(
        session,
        rt,
        kind="password-changed",
        to=user.email,
        subject="Your PD Prime password was changed",
        body=(
            f"{_hello(user)}\n\nthe password of your PD Prime account was just "
            "changed, and your other sessions were ended. If it was not you, reset your "
            f"password now: {rt.settings.public_base_url.rstrip('/')}/account/reset-password\n"
        ),
    )


async def request_password_reset(
    session: AsyncSession, rt: Runtime, *, email: str
) -> Result[None, DomainError]:
    """Always Ok, whether or not the address has an account (no enumeration), and the same
    work either way (no timing tell): a mail is queued to the address, a link for an account,
    a notice that none uses it otherwise. At most a few mails an hour to one address, so the
    route cannot be used to flood an inbox."""
    email = email.strip().lower()
    if not await mailbox.allowed(rt, "reset", email):
        return Ok(None)
    user = await session.scalar(select(User).where(User.email == email))
    if user is None or not user.is_active:
        await _no_account_notice(session, rt, email)
        return Ok(None)
    token = await _new_token(
        session, rt, user.id, "reset", ttl=rt.settings.password_reset_ttl_seconds
    )
    await mailbox.queue_mail(
        session,
        rt.cipher,
        to=user.email,
        subject="Reset your PD Prime password",
        body=(
            f"{_hello(user)}\n\nto choose a new password, follow this link:\n\n"
            f"{_link(rt, 'reset-password', token)}\n\n(or POST token={token} and "
            "new_password to /api/v1/auth/password-reset/confirmation). It works once, for "
            f"{rt.settings.password_reset_ttl_seconds // 60} minutes.\n\n"
            "If you did not ask for this, ignore this message: your password is unchanged.\n"
        ),
    )
    return Ok(None)


async def _no_account_notice(session: AsyncSession, rt: Runtime, email: str) -> None:
    # What a known address costs, short of the token row: the same UPDATE of earlier links
    # (it finds none), a token drawn, a mail row and its job.
    await session.execute(
        update(EmailToken)
        .where(EmailToken.user_id == uuid.uuid4(), EmailToken.used_at.is_(None))
        .values(used_at=clock.now())
    )
    # ... and one more round trip in the token row's place
    await session.execute(
        select(EmailToken.id).where(
            EmailToken.token_hash == token_digest(secrets.token_urlsafe(32))
        )
    )
    await mailbox.queue_mail(
        session,
        rt.cipher,
        to=email,
        subject="Reset your PD Prime password",
        body=(
            "Hello,\n\nsomeone (perhaps you) asked to reset the PD Prime password of this "
            "e-mail address, but no active PD Prime account uses it. If you have an account "
            "under another address, ask for the reset there.\n\n"
            "If you did not ask for this, ignore this message.\n"
        ),
    )


async def reset_password(
    session: AsyncSession, rt: Runtime, *, token: str, new_password: str
) -> Result[None, DomainError]:
    """Follow a reset link: a new password, and every session of the user ends."""
    stored = await _spend(session, token, "reset")
    if stored is None:
        return Err(INVALID_LINK)
    user = await session.get(User, stored.user_id, with_for_update=True)
    assert user is not None  # foreign key
    if problem := weak_password(new_password, email=user.email, full_name=user.full_name):
        return Err(problem)
    now = clock.now()
    user.password_hash = await to_thread.run_sync(rt.passwords.hash, new_password)
    user.updated_at = now
    if user.email_verified_at is None:  # the link reached the mailbox: it is theirs
        user.email_verified_at = now
    actor = Actor.system("password-reset")
    await audit.record(session, actor, "user.password_reset", "user", str(user.id))
    await revoke_all(session, user.id, reason="password_reset", actor=actor)
    await _notify_password_changed(session, rt, user)
    return Ok(None)


# --- e-mail change ---


async def request_email_change(
    session: AsyncSession,
    rt: Runtime,
    *,
    current_password: str,
    new_email: str,
    actor: Actor,
    client: str = "unknown",
) -> Result[None, DomainError]:
    """Send a confirmation link to the new address (and a notice to the old one). Whether the
    new address is free is not said here: that is decided when the link is followed."""
    user = await session.get(User, actor.user_id, with_for_update=True)
    if user is None:
        return Err(WRONG_PASSWORD)
    if refusal := await _check_current(rt, user, current_password, client):
        return Err(refusal)
    new_email = new_email.strip().lower()
    if new_email == user.email:
        return Err(
            invalid(
                "user.email_unchanged",
                "that is your current address",
                FieldIssue("#/new_email", "same as the current address"),
            )
        )
    if not await mailbox.allowed(rt, "email-change", new_email):
        # Past the cap on this recipient: nothing is sent (a flood of another's inbox), and
        # the link sent before stays the one that works.
        await audit.record(session, actor, "user.email_change_requested", "user", str(user.id))
        return Ok(None)
    token = await _new_token(
        session,
        rt,
        user.id,
        "email_change",
        ttl=rt.settings.email_token_ttl_seconds,
        new_email=new_email,
    )
    await mailbox.queue_mail(
        session,
        rt.cipher,
        to=new_email,
        subject="Confirm your new e-mail address",
        body=(
            "Hello,\n\nto use this address for PD Prime, follow this link:"
            f"\n\n{_link(rt, 'confirm-email', token)}\n\n(or POST token={token} to "
            "/api/v1/account/email-change/confirmation).\n\n"
            "If you did not ask for this, ignore this message.\n"
        ),
    )
    await mailbox.queue_limited(
        session,
        rt,
        kind="email-change-requested",
        to=user.email,
        subject="A change of your PD Prime e-mail address was requested",
        body=(
            f"{_hello(user)}\n\nsomeone signed in to your account asked to move it "
            "to another e-mail address. Nothing changes until the new address is confirmed. "
            "If it was not you, change your password now.\n"
        ),
    )
    await audit.record(session, actor, "user.email_change_requested", "user", str(user.id))
    return Ok(None)


async def confirm_email_change(
    session: AsyncSession, rt: Runtime, *, token: str
) -> Result[tuple[User, str], DomainError]:
    """Follow the link sent to the new address: the login moves to it (the old address,
    returned beside the user, is free from then on). An address another user holds by now is
    refused; telling that to the holder of the new mailbox reveals nothing they cannot see."""
    stored = await _spend(session, token, "email_change")
    if stored is None or stored.new_email_enc is None:
        return Err(INVALID_LINK)
    new_email = rt.cipher.decrypt(
        stored.new_email_enc, context=f"email_tokens.new_email:{stored.id}"
    )
    await locks.lock(session, f"user-email:{new_email}")
    if await session.scalar(select(User.id).where(User.email == new_email)) is not None:
        return Err(conflict("user.email_taken", "this address already belongs to an account"))
    user = await session.get(User, stored.user_id, with_for_update=True)
    assert user is not None  # foreign key
    old = user.email
    now = clock.now()
    user.email = new_email
    user.email_verified_at = now
    user.updated_at = now
    # Links sent to the old address (a reset, above all) stop working: it is not the
    # account's any more. And its holder learns the move (not where to).
    await session.execute(
        update(EmailToken)
        .where(EmailToken.user_id == user.id, EmailToken.used_at.is_(None))
        .values(used_at=now)
    )
    await audit.record(
        session, Actor.system("email-change"), "user.email_changed", "user", str(user.id)
    )
    await mailbox.queue_limited(
        session,
        rt,
        kind="email-changed",
        to=old,
        subject="Your PD Prime e-mail address was changed",
        body=(
            f"Hello {user.full_name},\n\nyour PD Prime account no longer uses this e-mail "
            "address: the move to another one was just confirmed, and links sent here earlier "
            "no longer work. If it was not you, contact us at once.\n"
        ),
    )
    return Ok((user, old))
