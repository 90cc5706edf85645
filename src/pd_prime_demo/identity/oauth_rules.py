"""The OAuth 2.1 / OpenID Connect provider's pure rules: scopes, redirect URIs, PKCE.

Scopes are of two kinds. OpenID Connect's (``openid profile email``) say what the client may
learn about the user (userinfo, the ID token); the platform's permissions (``quotes:read``)
say what its access tokens may do, and only as far as the user's role already reaches: a
token of an authorization holds the permissions both the user and the consented scopes hold.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import replace
from enum import StrEnum
from urllib.parse import urlsplit

from authlib.oauth2.rfc7636.challenge import (  # type: ignore[import-untyped]
    CODE_CHALLENGE_PATTERN,
    CODE_VERIFIER_PATTERN,
    create_s256_code_challenge,
)
from authlib.oidc.core.util import create_half_hash  # type: ignore[import-untyped]

from pd_prime_demo.core.actor import Actor, Permission


class OidcScope(StrEnum):
    OPENID = "openid"
    PROFILE = "profile"
    EMAIL = "email"
    # Not OpenID Connect's: the user's platform role as the claim ``roles`` (as many identity
    # providers release groups), for signing staff in to another PD Prime (its staff SSO).
    ROLES = "roles"


class GrantType(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"  # noqa: S105  (a grant's name)
    CLIENT_CREDENTIALS = "client_credentials"


class ClientType(StrEnum):
    CONFIDENTIAL = "confidential"
    PUBLIC = "public"


class AuthMethod(StrEnum):
    """Token endpoint authentication methods (RFC 7591 §2)."""

    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105
    NONE = "none"


class IdTokenAlg(StrEnum):
    """How a client's ID tokens are signed (OIDC Dynamic Client Registration §2,
    ``id_token_signed_response_alg``): RS256 is OpenID Connect's default, ES256 the platform's
    own key. Access tokens are ES256 whatever a client registered."""

    RS256 = "RS256"
    ES256 = "ES256"


OIDC_SCOPES = frozenset(s.value for s in OidcScope)
PERMISSION_SCOPES = frozenset(p.value for p in Permission)
KNOWN_SCOPES = OIDC_SCOPES | PERMISSION_SCOPES
# Scope tokens are %x21 / %x23-5B / %x5D-7E (RFC 6749 §3.3).
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")


def parse_scope(scope: str) -> frozenset[str] | None:
    """The scope tokens of a space-separated scope string, or None when malformed."""
    tokens = scope.split(" ") if scope else []
    if any(not _SCOPE_TOKEN.match(t) for t in tokens):
        return None
    return frozenset(tokens)


def format_scope(scopes: frozenset[str]) -> str:
    return " ".join(sorted(scopes))


def narrowed_to_scope(actor: Actor, scope: str) -> Actor:
    """A user's actor for an OAuth authorization's token: only the permissions both the user's
    role and the consented scopes hold (OpenID scopes grant no API permission)."""
    granted = frozenset(scope.split())
    return replace(actor, permissions=frozenset(p for p in actor.permissions if p in granted))


def redirect_uri_problem(uri: str, *, public: bool) -> str | None:
    """Why a redirect URI may not be registered (RFC 9700 §2.1, §4.1.3), or None.

    https, or http only to a loopback address (native apps, RFC 8252 §7.3); no fragment (RFC
    6749 §3.1.2); a public client may also use a private-use scheme like ``com.example.app:``.
    """
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "is not a URI"
    if parts.fragment or "#" in uri:
        return "must not contain a fragment"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost"):
        return None
    if public and re.fullmatch(r"[a-z][a-z0-9+.-]*\.[a-z0-9+.-]+", parts.scheme) and parts.path:
        return None
    return "must be https (http only to a loopback address)"


def pkce_challenge_problem(challenge: str | None, method: str | None) -> str | None:
    """Why an authorization request's PKCE parameters are refused, or None: a challenge is
    required and only S256 is accepted (RFC 9700 §2.1.1; ``plain`` gives no protection when
    the request itself leaks)."""
    if not challenge:
        return "code_challenge is required (PKCE, RFC 7636)"
    if method != "S256":
        return "code_challenge_method must be S256"
    if not CODE_CHALLENGE_PATTERN.match(challenge) or len(challenge) != 43:
        return "code_challenge is not a base64url SHA-256 digest"
    return None


def pkce_verifies(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge."""
    if not CODE_VERIFIER_PATTERN.match(verifier):
        return False
    expected: str = create_s256_code_challenge(verifier)
    return hmac.compare_digest(expected, challenge)


def at_hash(access_token: str) -> str:
    """OpenID Connect Core §3.1.3.6: the left half of the token's SHA-256, base64url."""
    half: bytes = create_half_hash(access_token, "ES256")
    return half.decode("ascii")


def amr_of(login_method: str) -> tuple[str, ...]:
    """Authentication method references (RFC 8176) of a login session's method."""
    match login_method:
        case "password":
            return ("pwd",)
        case "mfa:otp":
            return ("mfa", "otp", "pwd")
        case "mfa:webauthn":
            return ("hwk", "mfa", "pwd")
        case _:  # a recovery code, or a factor added later: more than a password
            return ("mfa", "pwd")
