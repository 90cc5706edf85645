"""Second factors: TOTP (RFC 6238) with one-time recovery codes, the MFA login step, MFA reset.

A password login of a user with a second factor answers ``auth.mfa_required`` with an
``mfa_token``: short-lived, bound to the user, and spent by the second step (a wrong code leaves
it usable up to ``mfa_max_failures`` times, within its lifetime). A staff user whose role needs
MFA but who has none yet gets ``auth.mfa_enrolment_required`` with a token that opens only the
enrolment routes; confirming the enrolment with a first code logs them in.

A TOTP code is accepted for the current 30-second step or one either side (clock drift), and
only for a step later than the last one accepted, so a code is never good twice (RFC 6238
section 5.2). Recovery codes carry 80 random bits and are stored as SHA-256 digests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Literal

import pyotp
import segno
from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.config import Settings
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    Ok,
    Result,
    conflict,
    not_found,
    unauthenticated,
)
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity.mfa_models import RecoveryCode, TotpCredential, WebauthnCredential
from pd_prime_demo.identity.models import User
from pd_prime_demo.identity.rules import token_digest
from pd_prime_demo.identity.sessions import revoke_all

TOTP_INTERVAL = 30
TOTP_DIGITS = 6
RECOVERY_CODES = 10
_DRIFT_STEPS = 1

Purpose = Literal["login", "enrol"]

INVALID_MFA_TOKEN = unauthenticated(
    "auth.invalid_mfa_token", "the mfa_token is invalid, expired or already used"
)
INVALID_CODE = unauthenticated("auth.invalid_otp", "the code is wrong or was already used")


# --- TOTP (pure) ---


def totp_code(
    secret_b32: str, *, at: float, digits: int = TOTP_DIGITS, algorithm: str = "sha1"
) -> str:
    """The RFC 6238 code of ``secret_b32`` at Unix time ``at``."""
    digest = getattr(hashlib, algorithm)
    return pyotp.TOTP(secret_b32, digits=digits, digest=digest, interval=TOTP_INTERVAL).at(at)


def matching_step(secret_b32: str, code: str, *, at: float, after: int | None) -> int | None:
    """The time step (within the drift allowed) whose code is ``code`` and that comes after
    step ``after``; None when there is none."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != TOTP_DIGITS:
        return None
    now_step = int(at) // TOTP_INTERVAL
    totp = pyotp.TOTP(secret_b32, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)
    for step in range(now_step - _DRIFT_STEPS, now_step + _DRIFT_STEPS + 1):
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def provisioning_uri(settings: Settings, secret_b32: str, account: str) -> str:
    return pyotp.TOTP(secret_b32, digits=TOTP_DIGITS, interval=TOTP_INTERVAL).provisioning_uri(
        name=account, issuer_name=settings.mfa_issuer
    )


def qr_svg_data_uri(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_data_uri(scale=4))


def _normalise_recovery(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


def new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode()  # 16 characters, 80 bits
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


# --- who needs what ---


def mfa_required(settings: Settings, role: str) -> bool:
    return role in settings.mfa_required_roles


async def has_mfa(session: AsyncSession, user_id: uuid.UUID) -> bool:
    totp = exists().where(
        TotpCredential.user_id == user_id, TotpCredential.confirmed_at.is_not(None)
    )
    passkey = exists().where(WebauthnCredential.user_id == user_id)
    return bool(await session.scalar(select(totp | passkey)))


async def methods_of(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    methods = []
    if await session.scalar(
        select(TotpCredential.user_id).where(
            TotpCredential.user_id == user_id, TotpCredential.confirmed_at.is_not(None)
        )
    ):
        methods += ["otp", "recovery_code"]
    if await session.scalar(
        select(WebauthnCredential.id).where(WebauthnCredential.user_id == user_id).limit(1)
    ):
        methods += ["webauthn", "recovery_code"] if not methods else ["webauthn"]
    return methods


# --- the MFA token between the two login steps (kept in the cache, single-use) ---


@dataclass(frozen=True, slots=True)
class MfaTicket:
    user_id: uuid.UUID
    purpose: Purpose
    expires: float
    failures: int


def _ticket_key(token: str) -> str:
    return "mfa-token:" + token_digest(token)


async def issue_ticket(rt: Runtime, user_id: uuid.UUID, purpose: Purpose) -> str:
    token = secrets.token_urlsafe(32)
    ttl = rt.settings.mfa_token_ttl_seconds
    value = {"user_id": str(user_id), "purpose": purpose, "expires": time.time() + ttl, "f": 0}
    await rt.cache.put(_ticket_key(token), json.dumps(value), ttl)
    return token


async def take_ticket(rt: Runtime, token: str, purpose: Purpose) -> MfaTicket | None:
    """The ticket, removed (of two concurrent takers only one gets it); None if unknown."""
    raw = await rt.cache.take(_ticket_key(token))
    if raw is None:
        return None
    value = json.loads(raw)
    ticket = MfaTicket(
        uuid.UUID(value["user_id"]), value["purpose"], float(value["expires"]), int(value["f"])
    )
    if ticket.purpose != purpose or ticket.expires <= time.time():
        return None
    return ticket


async def give_back(rt: Runtime, token: str, ticket: MfaTicket, *, failed: bool = True) -> None:
    """After a wrong code (``failed``) the ticket stays usable, for its remaining lifetime, up
    to ``mfa_max_failures`` times; after an enrolment's first step it stays as it was."""
    failures = ticket.failures + (1 if failed else 0)
    remaining = int(ticket.expires - time.time())
    if failures >= rt.settings.mfa_max_failures or remaining < 1:
        return
    value = {
        "user_id": str(ticket.user_id),
        "purpose": ticket.purpose,
        "expires": ticket.expires,
        "f": failures,
    }
    await rt.cache.put(_ticket_key(token), json.dumps(value), remaining)


# --- checking a second factor ---


def _secret_context(user_id: uuid.UUID) -> str:
    return f"totp_credentials.secret:{user_id}"


async def check_otp(session: AsyncSession, rt: Runtime, user_id: uuid.UUID, code: str) -> bool:
    """Whether ``code`` is the user's current TOTP code, not used before; records its step.
    The credential's row is locked, so of two requests with one code only one passes."""
    credential = await session.get(TotpCredential, user_id, with_for_update=True)
    if credential is None or credential.confirmed_at is None:
        return False
    secret = rt.cipher.decrypt(credential.secret_enc, context=_secret_context(user_id))
    step = matching_step(secret, code, at=clock.now().timestamp(), after=credential.last_step)
    if step is None:
        return False
    credential.last_step = step
    return True


async def check_recovery_code(session: AsyncSession, user_id: uuid.UUID, code: str) -> bool:
    """Spend one recovery code (each works once)."""
    digest = token_digest(_normalise_recovery(code))
    stored = await session.scalar(
        select(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == digest,
            RecoveryCode.used_at.is_(None),
        )
        .with_for_update()
    )
    if stored is None:
        return False
    stored.used_at = clock.now()
    return True


# --- enrolment ---


@dataclass(frozen=True, slots=True)
class TotpEnrolment:
    secret: str
    otpauth_uri: str
    qr_svg: str


async def begin_totp(
    session: AsyncSession, rt: Runtime, user: User
) -> Result[TotpEnrolment, DomainError]:
    """A new secret, unconfirmed until the first code (a new attempt replaces an unconfirmed
    one; a confirmed one must be reset first)."""
    existing = await session.get(TotpCredential, user.id, with_for_update=True)
    if existing is not None and existing.confirmed_at is not None:
        return Err(conflict("mfa.already_enrolled", "an authenticator app is already set up"))
    secret = pyotp.random_base32(32)  # 160 bits, RFC 4226's recommended length
    encrypted = rt.cipher.encrypt(secret, context=_secret_context(user.id))
    if existing is None:
        session.add(TotpCredential(user_id=user.id, secret_enc=encrypted, created_at=clock.now()))
    else:
        existing.secret_enc = encrypted
        existing.created_at = clock.now()
        existing.last_step = None
    await session.flush()
    uri = provisioning_uri(rt.settings, secret, user.email)
    return Ok(TotpEnrolment(secret, uri, qr_svg_data_uri(uri)))


async def confirm_totp(
    session: AsyncSession, rt: Runtime, user: User, code: str, *, actor: Actor
) -> Result[list[str], DomainError]:
    """Confirm the enrolment with a first code; returns fresh recovery codes (shown once)."""
    credential = await session.get(TotpCredential, user.id, with_for_update=True)
    if credential is None:
        return Err(not_found("totp_enrolment"))
    if credential.confirmed_at is not None:
        return Err(conflict("mfa.already_enrolled", "an authenticator app is already set up"))
    secret = rt.cipher.decrypt(credential.secret_enc, context=_secret_context(user.id))
    step = matching_step(secret, code, at=clock.now().timestamp(), after=None)
    if step is None:
        return Err(INVALID_CODE)
    credential.confirmed_at = clock.now()
    credential.last_step = step
    codes = await replace_recovery_codes(session, user.id)
    await audit.record(session, actor, "mfa.enrolled", "user", str(user.id), {"method": "totp"})
    return Ok(codes)


async def replace_recovery_codes(session: AsyncSession, user_id: uuid.UUID) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    now = clock.now()
    session.add_all(
        RecoveryCode(
            user_id=user_id, code_hash=token_digest(_normalise_recovery(c)), created_at=now
        )
        for c in codes
    )
    await session.flush()
    return codes


async def remove_all(session: AsyncSession, user_id: uuid.UUID) -> int:
    """Delete every second factor of the user; how many credentials there were."""
    removed = 0
    for model in (TotpCredential, WebauthnCredential):
        result = await session.execute(
            delete(model).where(model.user_id == user_id).returning(model.user_id)
        )
        removed += len(result.all())
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    return removed


@dataclass(frozen=True, slots=True)
class ResetOutcome:
    credentials_removed: int
    sessions_ended: int


async def reset_mfa(
    session: AsyncSession, user_id: uuid.UUID, *, actor: Actor
) -> Result[ResetOutcome, DomainError]:
    """An administrator's reset (a user who lost their authenticator): every second factor
    and recovery code goes, every session ends, and the user enrols again at the next login."""
    user = await session.get(User, user_id, with_for_update=True)
    if user is None:
        return Err(not_found("user"))
    removed = await remove_all(session, user_id)
    ended = await revoke_all(session, user_id, reason="mfa_reset", actor=actor)
    await audit.record(
        session, actor, "mfa.reset", "user", str(user_id), {"credentials_removed": removed}
    )
    return Ok(ResetOutcome(removed, ended))


async def status_of(session: AsyncSession, rt: Runtime, user: User) -> tuple[list[str], bool]:
    return await methods_of(session, user.id), mfa_required(rt.settings, user.role)
