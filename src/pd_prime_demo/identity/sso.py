"""Staff single sign-on through an external OpenID Connect provider (the relying party side).

The platform is a confidential client of the provider named by ``sso_issuer``: the staff
member's browser goes there with PKCE (S256), ``state`` and ``nonce`` kept in a signed,
short-lived cookie; the code comes back and is redeemed with authlib's OAuth client; the ID
token is verified against the provider's JWKS (joserfc) and its claims by authlib's
``CodeIDToken`` (iss, aud, exp, nonce, at_hash). Then the role claim is mapped through
``sso_role_map``: a value not in the map signs no one in. The staff member is found by the
provider's issuer and subject (``sub``), never by e-mail once linked; the first sign-in creates
the account for a verified address (``_first_sign_in`` says when an existing one is linked),
later ones take the mapped role (audited), and each gets a login session of the platform like
a password login's. A role that needs MFA needs the provider to say that it checked more than a
password (``amr``, a JSON array of strings, has ``mfa``).
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.errors import AuthlibBaseError  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]

with warnings.catch_warnings():
    # authlib 1.9 announces a move of its httpx integration to "httpx2" on import; the
    # integration works with the httpx in the lock, and every start-up should not say so.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
    )
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    ErrorKind,
    Ok,
    Result,
    forbidden,
    unauthenticated,
)
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import mfa
from pd_prime_demo.identity import service as identity
from pd_prime_demo.identity.models import User
from pd_prime_demo.identity.oauth_models import ExternalIdentity
from pd_prime_demo.identity.rules import STAFF_ROLES
from pd_prime_demo.identity.sessions import TokenPair, open_session

CALLBACK_PATH = "/api/v1/auth/sso/callback"
_STATE_TYP = "sso-state+jwt"
# Two first sign-ins of one subject (two tabs) or of one address must not both create or link.
_FIRST_SIGN_IN_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))")

NOT_CONFIGURED = DomainError(
    ErrorKind.NOT_FOUND, "sso.not_configured", "single sign-on is not configured"
)
SSO_FAILED = unauthenticated(
    "sso.failed", "the identity provider's answer could not be verified; sign in again"
)
PROVIDER_UNAVAILABLE = DomainError(
    ErrorKind.UNAVAILABLE, "sso.provider_unavailable", "the identity provider did not answer"
)
NO_ROLE = forbidden("sso.no_role", "your identity provider gives you no staff role here")
MFA_NEEDED = forbidden(
    "sso.mfa_required", "your role needs a second factor: sign in at the provider with one"
)
NOT_STAFF = forbidden("sso.not_staff", "this address belongs to an account that is not staff")
NOT_LINKED = forbidden(
    "sso.not_linked",
    "this address belongs to an account not linked to your identity at the provider",
)


@dataclass(frozen=True, slots=True)
class Started:
    authorization_url: str
    state_cookie: str  # signed: state, nonce and the PKCE verifier, for the callback


def _client(rt: Runtime, transport: httpx.AsyncBaseTransport | None) -> AsyncOAuth2Client:
    s = rt.settings
    assert s.sso_client_id is not None  # configured() checked it
    return AsyncOAuth2Client(
        client_id=s.sso_client_id,
        client_secret=s.sso_client_secret.get_secret_value() if s.sso_client_secret else None,
        scope=s.sso_scope,
        redirect_uri=s.oauth_issuer.rstrip("/") + CALLBACK_PATH,
        code_challenge_method="S256",
        transport=transport,
        timeout=10,
    )


def configured(rt: Runtime) -> bool:
    return bool(rt.settings.sso_issuer and rt.settings.sso_client_id)


async def _metadata(client: AsyncOAuth2Client, issuer: str) -> dict[str, Any]:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    response = await client.request("GET", url, withhold_token=True)
    response.raise_for_status()
    metadata: dict[str, Any] = response.json()
    if metadata.get("issuer") != issuer:  # OIDC Discovery §4.3
        raise ValueError("the provider's discovery names another issuer")
    return metadata


async def start(
    rt: Runtime, *, transport: httpx.AsyncBaseTransport | None = None
) -> Result[Started, DomainError]:
    if not configured(rt):
        return Err(NOT_CONFIGURED)
    issuer = rt.settings.sso_issuer
    assert issuer is not None
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    try:
        async with _client(rt, transport) as client:
            metadata = await _metadata(client, issuer)
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"],
                state=state,
                code_verifier=verifier,
                nonce=nonce,
            )
    except (httpx.HTTPError, ValueError, KeyError):
        return Err(PROVIDER_UNAVAILABLE)
    now = int(clock.now().timestamp())
    cookie = rt.signer.sign(
        {"state": state, "nonce": nonce, "verifier": verifier, "exp": now + 600},
        typ=_STATE_TYP,
    )
    return Ok(Started(str(url), cookie))


async def complete(
    session: AsyncSession,
    rt: Runtime,
    *,
    state_cookie: str | None,
    callback_url: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Result[TokenPair, DomainError]:
    """The provider sent the browser back: verify, map the role, sign the staff member in."""
    if not configured(rt):
        return Err(NOT_CONFIGURED)
    kept = rt.signer.verify(state_cookie) if state_cookie else None
    if kept is None or kept.header.get("typ") != _STATE_TYP:
        return Err(SSO_FAILED)
    if int(kept.claims["exp"]) <= clock.now().timestamp():
        return Err(SSO_FAILED)
    issuer = rt.settings.sso_issuer
    assert issuer is not None
    try:
        async with _client(rt, transport) as client:
            metadata = await _metadata(client, issuer)
            # authlib checks the state against the one we kept, and sends the verifier.
            token = await client.fetch_token(
                metadata["token_endpoint"],
                authorization_response=callback_url,
                state=kept.claims["state"],
                code_verifier=kept.claims["verifier"],
            )
            jwks = await client.request("GET", metadata["jwks_uri"], withhold_token=True)
            jwks.raise_for_status()
            claims = _verified_id_token(rt, token, jwks.json(), str(kept.claims["nonce"]))
    except (httpx.HTTPError, KeyError) as exc:
        return Err(PROVIDER_UNAVAILABLE if isinstance(exc, httpx.TransportError) else SSO_FAILED)
    except (AuthlibBaseError, JoseError, ValueError):
        return Err(SSO_FAILED)
    return await sign_in(session, rt, claims)


def _verified_id_token(rt: Runtime, token: dict[str, Any], jwks: Any, nonce: str) -> dict[str, Any]:
    decoded = jwt.decode(str(token["id_token"]), KeySet.import_key_set(jwks))
    id_token = CodeIDToken(
        decoded.claims,
        decoded.header,
        {
            "iss": {"essential": True, "value": rt.settings.sso_issuer},
            "aud": {"essential": True, "value": rt.settings.sso_client_id},
            "nonce": {"essential": True, "value": nonce},
        },
        {"nonce": nonce, "access_token": token.get("access_token")},
    )
    id_token.validate(now=int(clock.now().timestamp()), leeway=30)
    return dict(decoded.claims)


def mapped_role(rt: Runtime, claims: dict[str, Any]) -> Role | None:
    """The staff role the first mapped value of the role claim gives (a list or one string)."""
    raw = claims.get(rt.settings.sso_role_claim)
    values = raw if isinstance(raw, list) else [raw] if isinstance(raw, str) else []
    for value in values:
        role = rt.settings.sso_role_map.get(str(value))
        if role in {r.value for r in STAFF_ROLES}:
            return Role(role)
    return None


def provider_checked_mfa(claims: dict[str, Any]) -> bool:
    """Whether the provider says it checked more than a password: ``amr`` (OIDC Core §2) is a
    JSON array of strings holding ``mfa``. A string (``"nomfa"``) or anything else says no."""
    amr = claims.get("amr")
    return isinstance(amr, list) and all(isinstance(m, str) for m in amr) and "mfa" in amr


async def sign_in(
    session: AsyncSession, rt: Runtime, claims: dict[str, Any]
) -> Result[TokenPair, DomainError]:
    """Sign in the staff member an ID token names, its claims already verified (``complete``)."""
    role = mapped_role(rt, claims)
    if role is None:
        return Err(NO_ROLE)
    issuer, subject = rt.settings.sso_issuer, claims.get("sub")
    assert issuer is not None  # configured() checked it
    if not isinstance(subject, str) or not 0 < len(subject) <= 255:
        return Err(SSO_FAILED)
    if mfa.mfa_required(rt.settings, role.value) and not provider_checked_mfa(claims):
        return Err(MFA_NEEDED)
    system = Actor.system("sso")
    linked = await _linked(session, issuer, subject)
    if linked is None:  # a first sign-in: one at a time per provider, then look again
        await session.execute(_FIRST_SIGN_IN_LOCK, {"key": f"pd-prime sso {issuer}"})
        linked = await _linked(session, issuer, subject)
    if linked is None:
        first = await _first_sign_in(session, rt, claims, role, issuer, subject, system)
        if isinstance(first, Err):
            return first
        user = first.value
    else:
        query = select(User).where(User.id == linked.user_id).with_for_update()
        user = (await session.scalars(query)).one()  # the foreign key says it is there
        linked.last_sign_in_at = clock.now()
    if not user.is_active:
        return Err(SSO_FAILED)
    if Role(user.role) not in STAFF_ROLES:
        return Err(NOT_STAFF)
    if user.role != role.value:  # the provider is the source of truth for staff roles
        previous, user.role = user.role, role.value
        user.updated_at = clock.now()
        await audit.record(
            session,
            system,
            "user.role_changed",
            "user",
            str(user.id),
            {"from": previous, "to": role.value, "by": "sso"},
        )
    _, tokens = await open_session(session, rt, user, method="sso")
    return Ok(tokens)


async def _linked(session: AsyncSession, issuer: str, subject: str) -> ExternalIdentity | None:
    found: ExternalIdentity | None = await session.scalar(
        select(ExternalIdentity)
        .where(ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject)
        .with_for_update()
    )
    return found


async def _first_sign_in(
    session: AsyncSession,
    rt: Runtime,
    claims: dict[str, Any],
    role: Role,
    issuer: str,
    subject: str,
    system: Actor,
) -> Result[User, DomainError]:
    """No account has this (issuer, subject) yet: a verified address creates the staff member.

    An existing account is linked by e-mail only if single sign-on created it (it has an
    identity at another issuer: the company moved providers) and it has none at this issuer.
    A password account, or one linked to another subject here, is never taken over by e-mail.
    """
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is not True:
        return Err(SSO_FAILED)  # an account is made only for an address the provider verified
    user = await session.scalar(
        select(User).where(User.email == identity.normalise_email(email)).with_for_update()
    )
    if user is None:
        created = await identity.create_user(
            session,
            email=email,
            password=secrets.token_urlsafe(32),  # never told to anyone: SSO only
            full_name=str(claims.get("name") or email)[:200],
            role=role,
            passwords=rt.passwords,
            actor=system,
        )
        if isinstance(created, Err):
            return created
        user = created.value
    else:
        issuers = set(
            await session.scalars(
                select(ExternalIdentity.issuer).where(ExternalIdentity.user_id == user.id)
            )
        )
        if not issuers or issuer in issuers:
            return Err(NOT_LINKED)
    now = clock.now()
    session.add(
        ExternalIdentity(
            user_id=user.id, issuer=issuer, subject=subject, created_at=now, last_sign_in_at=now
        )
    )
    await audit.record(
        session, system, "user.sso_linked", "user", str(user.id), {"issuer": issuer, "by": "sso"}
    )
    return Ok(user)
