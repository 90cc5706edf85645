"""OpenID Connect on top of the OAuth provider: ID tokens, userinfo and discovery.

ID tokens follow OpenID Connect Core §2 and §3.1.3.6; each is signed as its client
registered (``id_token_signed_response_alg``): RS256 with the RSA key ring (Core §15.1), or
ES256 with the access tokens' key ring, both in the one JWKS. They are typed ``JWT``, so that
no ID token is ever accepted as an access token (those are ``at+jwt``, RFC 9068, and ES256
only). The discovery documents are RFC 8414's and OpenID Connect Discovery's, checked with
authlib's metadata validators in the tests.
"""

from __future__ import annotations

from typing import Any

import structlog

from pd_prime_demo.core import clock
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity.models import ApiClient, AuthSession, User
from pd_prime_demo.identity.oauth_models import AuthorizationCode
from pd_prime_demo.identity.oauth_rules import KNOWN_SCOPES, IdTokenAlg, OidcScope, at_hash

log = structlog.get_logger(__name__)

# Authentication context class: one factor (a password) or more (NIST SP 800-63B AAL2).
ACR_SINGLE_FACTOR = "urn:pd-prime:acr:aal1"
ACR_MULTI_FACTOR = "urn:pd-prime:acr:aal2"

OAUTH_PATH = "/api/v1/oauth"
JWKS_PATH = "/api/v1/auth/jwks.json"


def id_token(
    rt: Runtime,
    user: User,
    client: ApiClient,
    code: AuthorizationCode,
    authorization: AuthSession,
    access_token: str,
) -> str:
    now = int(clock.now().timestamp())
    claims: dict[str, Any] = {
        "iss": rt.settings.oauth_issuer,
        "sub": str(user.id),
        "aud": str(client.id),
        "azp": str(client.id),
        "exp": now + rt.settings.access_token_ttl_seconds,
        "iat": now,
        "auth_time": int(code.auth_time.timestamp()),
        "at_hash": at_hash(access_token),
        "amr": list(code.amr),
        "acr": ACR_MULTI_FACTOR if len(code.amr) > 1 else ACR_SINGLE_FACTOR,
        "sid": str(authorization.id),
    }
    if code.nonce is not None:
        claims["nonce"] = code.nonce
    claims.update(user_claims(user, frozenset(code.scope.split())))
    return rt.signer.sign_id_token(claims, algorithm=id_token_alg(rt, client))


def id_token_alg(rt: Runtime, client: ApiClient) -> str:
    """The client's registered algorithm; ES256 if it registered RS256 and the RSA key ring
    has since been removed from the configuration (said loudly: its relying party will
    refuse the token until the key is back or the client is registered anew)."""
    wanted = client.id_token_signed_response_alg
    if wanted in rt.signer.id_token_algorithms:
        return wanted
    log.warning("oidc.id_token_alg_unavailable", client_id=str(client.id), registered=wanted)
    return IdTokenAlg.ES256.value


def user_claims(user: User, scopes: frozenset[str]) -> dict[str, Any]:
    """The standard claims the scopes release (OpenID Connect Core §5.4)."""
    claims: dict[str, Any] = {}
    if OidcScope.PROFILE in scopes:
        claims["name"] = user.full_name
        claims["updated_at"] = int(user.updated_at.timestamp())
    if OidcScope.ROLES in scopes:
        claims["roles"] = [user.role]
    if OidcScope.EMAIL in scopes:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified_at is not None
    return claims


def userinfo(user: User, scopes: frozenset[str]) -> dict[str, Any]:
    return {"sub": str(user.id), **user_claims(user, scopes)}


def provider_metadata(rt: Runtime, *, openid: bool) -> dict[str, Any]:
    """RFC 8414 §2 authorization server metadata; with ``openid``, OIDC Discovery §3's."""
    issuer = rt.settings.oauth_issuer.rstrip("/")
    base = issuer + OAUTH_PATH
    metadata: dict[str, Any] = {
        "issuer": rt.settings.oauth_issuer,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "jwks_uri": issuer + JWKS_PATH,
        "revocation_endpoint": f"{base}/revoke",
        "introspection_endpoint": f"{base}/introspect",
        "userinfo_endpoint": f"{base}/userinfo",
        "scopes_supported": sorted(KNOWN_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "revocation_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "none",
        ],
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "authorization_response_iss_parameter_supported": True,
    }
    if openid:
        metadata |= {
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(rt.signer.id_token_algorithms),
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "at_hash",
                "amr",
                "acr",
                "sid",
                "name",
                "updated_at",
                "email",
                "email_verified",
                "roles",
            ],
            "acr_values_supported": [ACR_SINGLE_FACTOR, ACR_MULTI_FACTOR],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
        }
    return metadata
