"""API clients: machine clients of the OAuth 2.0 client credentials grant (RFC 6749 §4.4).

An admin registers a client for an owner, a staff user whose reach the client works within:
an agent's client quotes for the agent's customers, an underwriter's reads company-wide. The
client's scopes are permissions, and only ones its owner's role holds; a token carries the
scopes asked for (all of the client's by default), and every request checks that the client
is not revoked and its owner still active, so revocation takes effect at once. There is no
refresh token: a client asks for a new access token with its credentials (RFC 6749 §4.4.3).

The same registration serves the OAuth 2.1 authorization code grant (identity.oauth): a
client is confidential (a secret) or public (none: a browser or mobile app, held to PKCE
alone), lists its exact redirect URIs, the grants it may use, and the scopes it may ask a user
to consent to (OpenID Connect's and permissions, the latter only ones its owner holds).
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from beartype import beartype
from sqlalchemy import ColumnElement, Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    ErrorKind,
    FieldIssue,
    Ok,
    Result,
    invalid,
    not_found,
)
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.core.security_events import SecurityEventType, security_event
from pd_prime_demo.identity.models import ApiClient, AuthSession, User
from pd_prime_demo.identity.oauth_log import record_token_event
from pd_prime_demo.identity.oauth_rules import (
    OIDC_SCOPES,
    AuthMethod,
    ClientType,
    GrantType,
    IdTokenAlg,
    redirect_uri_problem,
)
from pd_prime_demo.identity.rules import (
    STAFF_ROLES,
    permissions_for,
    token_digest,
    user_actor,
)

# ``error`` is RFC 6749 §5.2's code, an extension member of the problem document.
INVALID_CLIENT = DomainError(
    ErrorKind.UNAUTHENTICATED,
    "auth.invalid_client",
    "the client id or secret is wrong, or the client is not active",
    extra={"error": "invalid_client"},
)
UNAUTHORIZED_CLIENT = DomainError(
    ErrorKind.FORBIDDEN,
    "auth.unauthorized_client",
    "this client is not registered for this grant type",
    extra={"error": "unauthorized_client"},
)


@dataclass(frozen=True, slots=True)
class Registered:
    client: ApiClient
    secret: str | None  # returned once, at registration; only its digest is kept (public: None)


@dataclass(frozen=True, slots=True)
class ClientToken:
    access_token: str
    expires_in: int
    scope: str


@beartype
async def register_client(
    session: AsyncSession,
    *,
    name: str,
    owner_id: uuid.UUID,
    scopes: list[Permission | str],
    actor: Actor,
    client_type: ClientType = ClientType.CONFIDENTIAL,
    redirect_uris: list[str] | None = None,
    grant_types: list[GrantType] | None = None,
    token_endpoint_auth_method: AuthMethod | None = None,
    id_token_signed_response_alg: IdTokenAlg | None = None,
    id_token_algs: tuple[str, ...] = (IdTokenAlg.ES256,),
) -> Result[Registered, DomainError]:
    """``id_token_algs`` are what the provider can sign ID tokens with (``TokenSigner``'s);
    a client that names none gets RS256 when it is among them (OIDC Dynamic Client
    Registration §2's default), else ES256."""
    grants = set(grant_types or [GrantType.CLIENT_CREDENTIALS])
    uris = list(dict.fromkeys(redirect_uris or []))
    method = token_endpoint_auth_method or (
        AuthMethod.NONE if client_type is ClientType.PUBLIC else AuthMethod.CLIENT_SECRET_BASIC
    )
    id_alg = id_token_signed_response_alg or (
        IdTokenAlg.RS256 if IdTokenAlg.RS256 in id_token_algs else IdTokenAlg.ES256
    )
    problems = _registration_problems(client_type, uris, grants, method, scopes)
    if id_alg not in id_token_algs:
        problems.append(
            FieldIssue(
                "#/id_token_signed_response_alg",
                f"this provider signs ID tokens with {', '.join(id_token_algs)} only",
            )
        )
    if problems:
        return Err(
            invalid(
                "api_client.invalid_metadata", "the client's registration is not valid", *problems
            )
        )
    owner = await session.get(User, owner_id)
    if owner is None or not owner.is_active or Role(owner.role) not in STAFF_ROLES:
        return Err(
            invalid(
                "api_client.unknown_owner",
                "an API client works for an active staff user",
                FieldIssue("#/owner_id", "no active staff user has this id"),
            )
        )
    held = permissions_for(Role(owner.role))
    if lacking := [
        FieldIssue(f"#/scopes/{i}", f"an {owner.role} does not hold {scope}")
        for i, scope in enumerate(scopes)
        if scope not in held and scope not in OIDC_SCOPES
    ]:
        return Err(
            invalid(
                "api_client.scope_not_held",
                "a client can hold only permissions its owner holds",
                *lacking,
            )
        )
    secret = secrets.token_urlsafe(32) if client_type is ClientType.CONFIDENTIAL else None
    client = ApiClient(
        id=uuid.uuid4(),
        name=name,
        owner_id=owner.id,
        scopes=sorted({str(scope) for scope in scopes}),
        secret_hash=token_digest(secret) if secret is not None else None,
        created_at=clock.now(),
        created_by=actor.id,
        client_type=client_type.value,
        redirect_uris=uris,
        grant_types=sorted(g.value for g in grants),
        token_endpoint_auth_method=method.value,
        id_token_signed_response_alg=id_alg.value,
    )
    session.add(client)
    await session.flush()
    await audit.record(
        session,
        actor,
        "api_client.registered",
        "api_client",
        str(client.id),
        {
            "owner_id": str(owner.id),
            "scopes": client.scopes,
            "client_type": client.client_type,
            "grant_types": client.grant_types,
            "id_token_signed_response_alg": client.id_token_signed_response_alg,
        },
    )
    return Ok(Registered(client, secret))


def _registration_problems(
    client_type: ClientType,
    uris: list[str],
    grants: set[GrantType],
    method: AuthMethod,
    scopes: list[Permission | str],
) -> list[FieldIssue]:
    public = client_type is ClientType.PUBLIC
    problems = [
        FieldIssue(f"#/redirect_uris/{i}", f"{uri!r} {why}")
        for i, uri in enumerate(uris)
        if (why := redirect_uri_problem(uri, public=public)) is not None
    ]
    method_issue = "#/token_endpoint_auth_method"
    if public and method is not AuthMethod.NONE:
        problems.append(FieldIssue(method_issue, "a public client has no secret: none"))
    if not public and method is AuthMethod.NONE:
        problems.append(FieldIssue(method_issue, "a confidential client uses its secret"))
    if public and GrantType.CLIENT_CREDENTIALS in grants:
        problems.append(FieldIssue("#/grant_types", "client_credentials needs a secret"))
    code = GrantType.AUTHORIZATION_CODE in grants
    if code and not uris:
        problems.append(FieldIssue("#/redirect_uris", "the authorization code grant needs one"))
    if uris and not code:
        problems.append(FieldIssue("#/redirect_uris", "only for the authorization code grant"))
    if GrantType.REFRESH_TOKEN in grants and not code:
        problems.append(FieldIssue("#/grant_types", "refresh_token needs authorization_code"))
    if not code and (oidc := sorted(OIDC_SCOPES & {str(s) for s in scopes})):
        problems.append(
            FieldIssue("#/scopes", f"{' '.join(oidc)}: only for the authorization code grant")
        )
    return problems


async def list_clients(
    session: AsyncSession, *, cursor: str | None, limit: int
) -> Result[tuple[list[ApiClient], str | None], DomainError]:
    return await keyset_page(session, select(ApiClient), ApiClient, cursor=cursor, limit=limit)


async def revoke_client(
    session: AsyncSession, client_id: uuid.UUID, *, actor: Actor
) -> Result[ApiClient, DomainError]:
    """Idempotent: revoking a revoked client changes nothing."""
    client = await session.get(ApiClient, client_id, with_for_update=True)
    if client is None:
        return Err(not_found("api_client"))
    if client.revoked_at is None:
        client.revoked_at = clock.now()
        ended = await end_authorizations(
            session, ApiClient.id == client.id, reason="client_revoked"
        )
        await audit.record(
            session,
            actor,
            "api_client.revoked",
            "api_client",
            str(client.id),
            {"authorizations_ended": ended},
        )
    return Ok(client)


def owned_by(owner_id: uuid.UUID) -> ColumnElement[bool]:
    return ApiClient.owner_id == owner_id


async def end_authorizations(
    session: AsyncSession, which: ColumnElement[bool], *, reason: str
) -> int:
    """End at once the live OAuth authorizations (login sessions with a client) of the clients
    ``which`` selects: their access tokens carry the session id, so they stop with it, not at
    their expiry. Each is written to the token log. How many ended."""
    ended = (
        await session.execute(
            update(AuthSession)
            .where(
                AuthSession.client_id.in_(select(ApiClient.id).where(which)),
                AuthSession.revoked_at.is_(None),
            )
            .values(revoked_at=clock.now(), revoked_reason=reason)
            .returning(AuthSession.id, AuthSession.client_id, AuthSession.user_id)
        )
    ).all()
    for row in ended:
        await record_token_event(
            session,
            "revoked",
            client_id=row.client_id,
            user_id=row.user_id,
            session_id=row.id,
            reason=reason,
        )
    return len(ended)


# Run for every request made with a client's token, like the login-session check for users,
# and once per token request (which also compares the secret's digest).
_LIVE_CLIENT = (
    select(
        ApiClient.scopes,
        ApiClient.secret_hash,
        ApiClient.grant_types,
        User.id,
        User.role,
        User.underwriting_authority,
    )
    .join(User, User.id == ApiClient.owner_id)
    .where(
        ApiClient.id == bindparam("client_id"),
        ApiClient.revoked_at.is_(None),
        User.is_active.is_(True),
    )
)


_LiveClient = Row[list[str], str | None, list[str], uuid.UUID, str, int | None]


async def _live_client(session: AsyncSession, client_id: uuid.UUID) -> _LiveClient | None:
    """The client's row if it and its owner are active."""
    return (await session.execute(_LIVE_CLIENT, {"client_id": client_id})).one_or_none()


def _as_actor(client_id: uuid.UUID, row: _LiveClient, scopes: frozenset[str] | None) -> Actor:
    """The live client as an actor; ``scopes`` (a token's) narrow the client's own."""
    granted = frozenset(row.scopes) if scopes is None else frozenset(row.scopes) & scopes
    owner = user_actor(row.id, row.role, row.underwriting_authority)
    # A stored scope that is no permission any more (renamed in a later release) grants nothing.
    return Actor.client(client_id, owner, frozenset(p for p in Permission if p.value in granted))


async def authenticate_client(
    session: AsyncSession, claims: Mapping[str, Any]
) -> Result[Actor, DomainError]:
    """The actor of a verified client access token (signature and times checked already)."""
    try:
        client_id = uuid.UUID(str(claims["client_id"]))
        scopes = frozenset(str(claims["scope"]).split())
    except (KeyError, ValueError, TypeError):
        return Err(INVALID_CLIENT)
    if str(claims.get("sub")) != str(client_id):
        return Err(INVALID_CLIENT)
    row = await _live_client(session, client_id)
    return Ok(_as_actor(client_id, row, scopes)) if row is not None else Err(INVALID_CLIENT)


async def client_actor(session: AsyncSession, client_id: uuid.UUID) -> Actor | None:
    """The actor a live client acts as, with every scope it was granted (what a token of it
    could hold at most); None when it is revoked, its owner inactive, or it is unknown. For
    work done on a client's behalf without a token of its own, such as its webhooks."""
    row = await _live_client(session, client_id)
    return _as_actor(client_id, row, None) if row is not None else None


async def issue_client_token(
    session: AsyncSession, rt: Runtime, *, client_id: str, client_secret: str, scope: str
) -> Result[ClientToken, DomainError]:
    try:
        ident = uuid.UUID(client_id)
    except ValueError:
        return refused_client(None)
    row = await _live_client(session, ident)
    # The client id is public (RFC 6749 §2.2); the secret is compared in constant time.
    if (
        row is None
        or row.secret_hash is None
        or not hmac.compare_digest(row.secret_hash, token_digest(client_secret))
    ):
        return refused_client(ident)
    if GrantType.CLIENT_CREDENTIALS not in row.grant_types:
        return Err(UNAUTHORIZED_CLIENT)
    actor = _as_actor(ident, row, None)
    granted = {p.value for p in actor.permissions}
    requested = set(scope.split()) or granted
    if unknown := sorted(requested - granted):
        return Err(
            invalid(
                "auth.invalid_scope",
                "the client may not ask for these scopes",
                FieldIssue("#/scope", f"not granted to this client: {' '.join(unknown)}"),
            )
        )
    now = int(clock.now().timestamp())
    ttl = rt.settings.access_token_ttl_seconds
    issued_scope = " ".join(sorted(requested))
    token = rt.signer.sign(
        {
            "iss": rt.settings.jwt_issuer,
            "aud": rt.settings.jwt_audience,
            "sub": str(ident),
            "client_id": str(ident),
            "scope": issued_scope,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
        }
    )
    await audit.record(
        session,
        actor,
        "auth.client_token_issued",
        "api_client",
        str(ident),
        {"scope": issued_scope},
    )
    await record_token_event(
        session, "issued", grant=GrantType.CLIENT_CREDENTIALS, client_id=ident, user_id=row.id
    )
    return Ok(ClientToken(token, ttl, issued_scope))


def refused_client(client_id: uuid.UUID | None) -> Err[DomainError]:
    """INVALID_CLIENT, logged as a security event (the id only when it is one: the caller
    wrote it)."""
    security_event(
        SecurityEventType.CLIENT_AUTH_FAILED, reason="invalid_client", client_id=client_id
    )
    return Err(INVALID_CLIENT)


async def authenticate_oauth_client(
    session: AsyncSession, *, client_id: str, client_secret: str | None
) -> Result[ApiClient, DomainError]:
    """A client at the token, revocation or introspection endpoint (RFC 6749 §2.3): a
    confidential one by its secret (the router holds it to its registered transport), a public
    one by its id alone, and then it must send no secret. Live: not revoked, its owner active."""
    try:
        ident = uuid.UUID(client_id)
    except ValueError:
        return Err(INVALID_CLIENT)
    client = await live_client_record(session, ident)
    if client is None:
        return Err(INVALID_CLIENT)
    if client.secret_hash is None:
        return Ok(client) if client_secret is None else Err(INVALID_CLIENT)
    if client_secret is None or not hmac.compare_digest(
        client.secret_hash, token_digest(client_secret)
    ):
        return Err(INVALID_CLIENT)
    return Ok(client)


async def live_client_record(session: AsyncSession, client_id: uuid.UUID) -> ApiClient | None:
    """The registered client if it is live (not revoked, its owner active), else None."""
    return await session.scalar(
        select(ApiClient)
        .join(User, User.id == ApiClient.owner_id)
        .where(ApiClient.id == client_id, ApiClient.revoked_at.is_(None), User.is_active.is_(True))
    )
