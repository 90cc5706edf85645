"""Passkeys (WebAuthn Level 3) as a second factor, with the ``webauthn`` library.

Registration: a signed-in user asks for creation options (a random challenge kept in the cache
for five minutes, their existing credentials excluded), the browser's authenticator answers,
and the library checks the challenge, origin (``webauthn_origins``), relying party id
(``webauthn_rp_id``) and attestation ("none" is accepted: we learn the key, not the device).
Authentication is the second step of a password login: the ``mfa_token`` of
``auth.mfa_required`` asks for request options listing the user's credentials; the assertion's
signature over authenticatorData || SHA-256(clientDataJSON) is verified against the stored
public key, and the signature counter must move forward (a cloned authenticator shows).
A challenge is taken from the cache when it is checked, so it works once.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock, locks
from pd_prime_demo.core.actor import Actor
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    Ok,
    Result,
    conflict,
    invalid,
    unauthenticated,
)
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import mfa
from pd_prime_demo.identity.factor_notice import notify_factor_added
from pd_prime_demo.identity.mfa_models import RecoveryCode, WebauthnCredential
from pd_prime_demo.identity.models import User
from pd_prime_demo.identity.rules import token_digest

CHALLENGE_TTL_SECONDS = 300
MAX_PASSKEYS = 10

INVALID_ASSERTION = unauthenticated(
    "auth.invalid_webauthn_assertion",
    "the passkey's answer does not check out; ask for new options and try again",
)
INVALID_CREDENTIAL = invalid(
    "mfa.invalid_webauthn_response",
    "the passkey's response does not check out (challenge, origin, signature or counter)",
)
CREDENTIAL_TAKEN = conflict(
    "mfa.webauthn_credential_taken", "this passkey is registered already; create a new one"
)


async def _credentials_of(session: AsyncSession, user_id: uuid.UUID) -> list[WebauthnCredential]:
    return list(
        await session.scalars(
            select(WebauthnCredential)
            .where(WebauthnCredential.user_id == user_id)
            .order_by(WebauthnCredential.created_at)
        )
    )


def _registration_key(user_id: uuid.UUID) -> str:
    return f"webauthn-reg:{user_id}"


def _authentication_key(mfa_token: str) -> str:
    return "webauthn-auth:" + token_digest(mfa_token)


async def registration_options(
    session: AsyncSession, rt: Runtime, user: User
) -> Result[dict[str, Any], DomainError]:
    existing = await _credentials_of(session, user.id)
    if len(existing) >= MAX_PASSKEYS:
        return Err(invalid("mfa.too_many_passkeys", f"at most {MAX_PASSKEYS} passkeys"))
    challenge = secrets.token_bytes(32)
    options = generate_registration_options(
        rp_id=rt.settings.webauthn_rp_id,
        rp_name=rt.settings.webauthn_rp_name,
        user_id=user.id.bytes,
        user_name=user.email,
        user_display_name=user.full_name,
        challenge=challenge,
        timeout=CHALLENGE_TTL_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c.credential_id) for c in existing],
    )
    await rt.cache.put(
        _registration_key(user.id), bytes_to_base64url(challenge), CHALLENGE_TTL_SECONDS
    )
    return Ok(dict(json.loads(options_to_json(options))))


@dataclass(frozen=True, slots=True)
class Registered:
    credential: WebauthnCredential
    recovery_codes: list[str]  # new codes when this is the user's first second factor


async def register(
    session: AsyncSession,
    rt: Runtime,
    user: User,
    *,
    credential: dict[str, Any],
    name: str,
    actor: Actor,
) -> Result[Registered, DomainError]:
    challenge = await rt.cache.take(_registration_key(user.id))
    if challenge is None:
        return Err(INVALID_CREDENTIAL)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rt.settings.webauthn_rp_id,
            expected_origin=list(rt.settings.webauthn_origins),
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return Err(INVALID_CREDENTIAL)
    # Two registrations of one credential id at once: the second waits for the first's
    # transaction, then finds it taken (a 409, not the unique index's error).
    await locks.lock(session, f"webauthn-credential:{bytes_to_base64url(verified.credential_id)}")
    taken = await session.scalar(
        select(WebauthnCredential.id).where(
            WebauthnCredential.credential_id == verified.credential_id
        )
    )
    if taken is not None:
        return Err(CREDENTIAL_TAKEN)
    had_codes = await session.scalar(
        select(RecoveryCode.id).where(RecoveryCode.user_id == user.id).limit(1)
    )
    stored = WebauthnCredential(
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=name,
        created_at=clock.now(),
    )
    session.add(stored)
    await session.flush()
    codes = [] if had_codes else await mfa.replace_recovery_codes(session, user.id)
    await audit.record(session, actor, "mfa.enrolled", "user", str(user.id), {"method": "webauthn"})
    await notify_factor_added(session, rt, user, "webauthn")
    return Ok(Registered(stored, codes))


async def authentication_options(
    session: AsyncSession, rt: Runtime, *, mfa_token: str
) -> Result[dict[str, Any], DomainError]:
    """Request options for the user a login's mfa_token names (the token stays usable)."""
    ticket = await mfa.take_ticket(rt, mfa_token, "login")
    if ticket is None:
        return Err(mfa.INVALID_MFA_TOKEN)
    await mfa.give_back(rt, mfa_token, ticket, failed=False)
    credentials = await _credentials_of(session, ticket.user_id)
    if not credentials:
        return Err(invalid("mfa.no_passkey", "this account has no passkey; use a code"))
    challenge = secrets.token_bytes(32)
    options = generate_authentication_options(
        rp_id=rt.settings.webauthn_rp_id,
        challenge=challenge,
        timeout=CHALLENGE_TTL_SECONDS * 1000,
        allow_credentials=[PublicKeyCredentialDescriptor(id=c.credential_id) for c in credentials],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    remaining = max(int(ticket.expires - clock.now().timestamp()), 1)
    await rt.cache.put(
        _authentication_key(mfa_token),
        bytes_to_base64url(challenge),
        min(CHALLENGE_TTL_SECONDS, remaining),
    )
    return Ok(dict(json.loads(options_to_json(options))))


async def check_assertion(
    session: AsyncSession,
    rt: Runtime,
    user_id: uuid.UUID,
    *,
    mfa_token: str,
    credential: dict[str, Any],
) -> bool:
    """Whether ``credential`` is a valid assertion by one of the user's passkeys for the
    challenge issued to this mfa_token; moves the passkey's signature counter on."""
    challenge = await rt.cache.take(_authentication_key(mfa_token))
    raw_id = credential.get("rawId") or credential.get("id")
    if challenge is None or not isinstance(raw_id, str):
        return False
    try:
        credential_id = base64url_to_bytes(raw_id)
    except ValueError:
        return False
    stored = await session.scalar(
        select(WebauthnCredential)
        .where(
            WebauthnCredential.user_id == user_id,
            WebauthnCredential.credential_id == credential_id,
        )
        .with_for_update()
    )
    if stored is None:
        return False
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rt.settings.webauthn_rp_id,
            expected_origin=list(rt.settings.webauthn_origins),
            credential_public_key=stored.public_key,
            credential_current_sign_count=stored.sign_count,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError):
        return False
    stored.sign_count = verified.new_sign_count
    stored.last_used_at = clock.now()
    return True
