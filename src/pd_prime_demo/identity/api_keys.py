"""API keys: a staff user's bearer credential for a simple integration (a script, a report).

``pdp_live_<43 random characters>``: recognisable in a leaked-secret scan, shown once, stored as
a SHA-256 digest (like refresh tokens and client secrets: 256 bits of entropy need no slow hash)
with its first characters kept, no secret, to tell keys apart. A key holds scopes, permissions
its owner's role holds, and acts as its owner narrowed to them (like an API client); every
request checks that it is unrevoked, unexpired and its owner active, so revoking it or
deactivating the owner ends it at once. Rotation issues a new key and shortens the old one's
life to an overlap, so that every deployment of the integration can move over.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from beartype import beartype
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, ActorKind, Permission
from pd_prime_demo.core.pagination import keyset_page
from pd_prime_demo.core.result_types import (
    DomainError,
    Err,
    FieldIssue,
    Ok,
    Result,
    forbidden,
    invalid,
    not_found,
    unauthenticated,
)
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity.api_key_models import ApiKey
from pd_prime_demo.identity.models import User
from pd_prime_demo.identity.rules import STAFF_ROLES, token_digest, user_actor

KEY_PREFIX = "pdp_live_"
# What is kept in clear to identify a key: the marker and 8 random characters (48 bits, no
# help to anyone guessing the remaining 250).
_SHOWN = len(KEY_PREFIX) + 8
# last_used_at is a hint for its owner ("is this key still used?"), not an access log: one
# write a minute per key at most, so a busy integration does not write on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)

INVALID_KEY = unauthenticated(
    "auth.invalid_api_key", "the API key is unknown, expired or revoked, or its owner inactive"
)
STAFF_ONLY = forbidden("api_key.staff_only", "API keys are for staff users")
NOT_BY_MACHINE = forbidden(
    "api_key.person_required",
    "an API key or client cannot create or rotate keys: its owner signs in to do so",
)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    secret: str  # the whole key, returned once; only its digest is kept


def is_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def _new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _scopes_problem(actor: Actor, scopes: list[Permission]) -> DomainError | None:
    # What the caller holds now (its token's permissions), not what its role could hold.
    held = actor.permissions
    if lacking := [
        FieldIssue(f"#/scopes/{i}", f"you do not hold {scope}")
        for i, scope in enumerate(scopes)
        if scope not in held
    ]:
        return invalid(
            "api_key.scope_not_held", "a key can hold only permissions its owner holds", *lacking
        )
    return None


def _person(actor: Actor) -> Result[uuid.UUID, DomainError]:
    """The signed-in staff user behind ``actor``: keys are made by people, for themselves."""
    # An app the user authorized (OAuth) holds only what was consented: a key would outlive
    # the authorization and exceed its scopes.
    if actor.kind is not ActorKind.USER or actor.user_id is None or actor.delegated_to:
        return Err(NOT_BY_MACHINE)
    if actor.role not in STAFF_ROLES:
        return Err(STAFF_ONLY)
    return Ok(actor.user_id)


@beartype
async def create_key(
    session: AsyncSession,
    rt: Runtime,
    *,
    name: str,
    scopes: list[Permission],
    ttl_days: int | None,
    actor: Actor,
) -> Result[IssuedKey, DomainError]:
    match _person(actor):
        case Err() as err:
            return err
        case Ok(owner_id):
            pass
    if problem := _scopes_problem(actor, scopes):
        return Err(problem)
    days = ttl_days or rt.settings.api_key_default_ttl_days
    if days > rt.settings.api_key_max_ttl_days:
        return Err(
            invalid(
                "api_key.ttl_too_long",
                "the key would live longer than this platform allows",
                FieldIssue("#/ttl_days", f"at most {rt.settings.api_key_max_ttl_days}"),
            )
        )
    now = clock.now()
    issued = await _issue(session, owner_id, name, sorted({s.value for s in scopes}), now, days)
    await audit.record(
        session,
        actor,
        "api_key.created",
        "api_key",
        str(issued.key.id),
        {"scopes": issued.key.scopes, "expires_at": issued.key.expires_at.isoformat()},
    )
    return Ok(issued)


async def _issue(
    session: AsyncSession,
    owner_id: uuid.UUID,
    name: str,
    scopes: list[str],
    now: datetime,
    days: int,
) -> IssuedKey:
    secret = _new_secret()
    key = ApiKey(
        id=uuid.uuid4(),
        owner_id=owner_id,
        name=name,
        prefix=secret[:_SHOWN],
        key_hash=token_digest(secret),
        scopes=scopes,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(key)
    await session.flush()
    return IssuedKey(key, secret)


def _may_see(actor: Actor, key: ApiKey) -> bool:
    return key.owner_id == actor.user_id or actor.has(Permission.USERS_READ)


async def list_keys(
    session: AsyncSession,
    *,
    owner_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
    actor: Actor,
) -> Result[tuple[list[ApiKey], str | None], DomainError]:
    """The actor's own keys; an administrator (users:read) lists anyone's, or everyone's."""
    query = select(ApiKey)
    if not actor.has(Permission.USERS_READ):
        if owner_id is not None and owner_id != actor.user_id:
            return Ok(([], None))
        owner_id = actor.user_id
    if owner_id is not None:
        query = query.where(ApiKey.owner_id == owner_id)
    return await keyset_page(session, query, ApiKey, cursor=cursor, limit=limit)


async def _owned(
    session: AsyncSession, key_id: uuid.UUID, actor: Actor, *, manage: bool
) -> Result[ApiKey, DomainError]:
    """The key, locked, if the actor owns it (or, with ``manage``, may manage users)."""
    key = await session.get(ApiKey, key_id, with_for_update=True)
    allowed = key is not None and (
        key.owner_id == actor.user_id or (manage and actor.has(Permission.USERS_MANAGE))
    )
    return Ok(key) if key is not None and allowed else Err(not_found("api_key"))


async def revoke_key(
    session: AsyncSession, key_id: uuid.UUID, *, actor: Actor
) -> Result[ApiKey, DomainError]:
    """Its owner or an administrator; idempotent. The key stops working at once."""
    match await _owned(session, key_id, actor, manage=True):
        case Err() as err:
            return err
        case Ok(key):
            pass
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        await audit.record(session, actor, "api_key.revoked", "api_key", str(key.id))
    return Ok(key)


@dataclass(frozen=True, slots=True)
class Rotated:
    issued: IssuedKey
    previous: ApiKey  # still working until its expires_at, the end of the overlap


async def rotate_key(
    session: AsyncSession,
    rt: Runtime,
    key_id: uuid.UUID,
    *,
    overlap_hours: int | None,
    actor: Actor,
) -> Result[Rotated, DomainError]:
    """A new key with the old one's name and scopes and a fresh lifetime; the old one keeps
    working for the overlap (or until it expires, if sooner). A key is rotated once: rotate
    the newest key of a chain."""
    match _person(actor):
        case Err() as err:
            return err
        case Ok():
            pass
    match await _owned(session, key_id, actor, manage=False):
        case Err() as err:
            return err
        case Ok(old):
            pass
    now = clock.now()
    if old.revoked_at is not None or old.expires_at <= now or old.replaced_by_id is not None:
        return Err(
            invalid(
                "api_key.not_rotatable",
                "only a live key that was not rotated already can be rotated",
            )
        )
    # Scopes the owner no longer holds (a role change) do not carry over to the new key.
    held = {p.value for p in actor.permissions}
    scopes = [s for s in old.scopes if s in held]
    lifetime = old.expires_at - old.created_at
    days = max(1, min(lifetime.days, rt.settings.api_key_max_ttl_days))
    issued = await _issue(session, old.owner_id, old.name, scopes, now, days)
    overlap = timedelta(hours=rt.settings.api_key_rotation_overlap_hours)
    if overlap_hours is not None:
        overlap = min(overlap, timedelta(hours=overlap_hours))
    old.expires_at = min(old.expires_at, now + overlap)
    old.replaced_by_id = issued.key.id
    await audit.record(
        session,
        actor,
        "api_key.rotated",
        "api_key",
        str(old.id),
        {"replaced_by": str(issued.key.id), "old_expires_at": old.expires_at.isoformat()},
    )
    return Ok(Rotated(issued, old))


# Run for every request made with an API key: one indexed lookup by digest, with the owner.
_LIVE_KEY = (
    select(
        ApiKey.id,
        ApiKey.scopes,
        ApiKey.last_used_at,
        User.id.label("owner_id"),
        User.role,
        User.underwriting_authority,
        User.is_demo,
    )
    .join(User, User.id == ApiKey.owner_id)
    .where(
        ApiKey.key_hash == bindparam("key_hash"),
        ApiKey.revoked_at.is_(None),
        ApiKey.expires_at > bindparam("now"),
        User.is_active.is_(True),
    )
)

# SKIP LOCKED: of many requests with one key at the minute's turn, one writes and none waits.
_TOUCH = (
    update(ApiKey)
    .where(
        ApiKey.id.in_(
            select(ApiKey.id)
            .where(
                ApiKey.id == bindparam("key_id"),
                (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < bindparam("stale")),
            )
            .with_for_update(skip_locked=True)
        )
    )
    .values(last_used_at=bindparam("now"))
    .execution_options(synchronize_session=False)
)


async def authenticate_key(
    session: AsyncSession, rt: Runtime, token: str
) -> Result[Actor, DomainError]:
    now = clock.now()
    row = (
        await session.execute(_LIVE_KEY, {"key_hash": token_digest(token), "now": now})
    ).one_or_none()
    if row is None or (row.is_demo and not rt.settings.demo_accounts_allowed):
        return Err(INVALID_KEY)
    if row.last_used_at is None or row.last_used_at < now - LAST_USED_RESOLUTION:
        await session.execute(
            _TOUCH, {"key_id": row.id, "stale": now - LAST_USED_RESOLUTION, "now": now}
        )
    owner = user_actor(row.owner_id, row.role, row.underwriting_authority)
    if row.is_demo:
        owner = replace(owner, demo=True)
    # A stored scope that is no permission any more (renamed in a later release) grants nothing.
    granted = frozenset(p for p in Permission if p.value in row.scopes)
    return Ok(Actor.api_key(row.id, owner, granted))
