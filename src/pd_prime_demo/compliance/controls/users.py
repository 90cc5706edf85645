"""User provisioning and removal (AICPA TSC CC6.2, CC6.3) and MFA for staff (CC6.6).

Both walk the users through ``identity.service.list_users`` (keyset pages: never the whole
user table in memory) and ask identity, per user, what it holds for them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.compliance.control import Control, ControlContext, Frequency, Outcome
from pd_prime_demo.compliance.controls.evidence import csv_evidence, json_evidence, named
from pd_prime_demo.core.actor import Actor, Role
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.identity import api_keys, mfa, sessions
from pd_prime_demo.identity import service as identity

_PAGE = 500
# CC6.2/CC6.3 looks back over one period of its frequency (daily), with a day's overlap so a
# run that was late still covers the whole day.
_LOOKBACK = timedelta(days=2)
_CONTROL_ACTOR = Actor.system("compliance")


async def _users(session: AsyncSession, role: Role | None = None) -> AsyncIterator[Any]:
    cursor: str | None = None
    while True:
        page = await identity.list_users(session, role=role, cursor=cursor, limit=_PAGE)
        if not isinstance(page, Ok):
            raise RuntimeError(f"users could not be listed: {page}")
        users, cursor = page.value
        for user in users:
            yield user
        if cursor is None:
            return


async def _audited(session: AsyncSession, user_id: str, action: str) -> bool:
    page = await audit.list_entries(
        session, resource_type="user", resource_id=user_id, cursor=None, limit=100
    )
    return isinstance(page, Ok) and any(e.action == action for e in page.value[0])


async def _live_credentials(session: AsyncSession, user: Any, now: datetime) -> list[str]:
    """What still authenticates as ``user``: live login sessions (password logins and OAuth
    authorizations; their refresh tokens refresh only while the session is live) and API
    keys neither revoked nor expired."""
    held = [
        f"session:{s.id}" + (f" (oauth client {s.client_id})" if s.client_id else "")
        for s in await sessions.list_live(session, actor=identity.actor_for_user(user))
    ]
    cursor: str | None = None
    while True:
        page = await api_keys.list_keys(
            session, owner_id=user.id, cursor=cursor, limit=_PAGE, actor=_CONTROL_ACTOR
        )
        if not isinstance(page, Ok):
            break
        keys, cursor = page.value
        held += [f"api_key:{k.id}" for k in keys if k.revoked_at is None and k.expires_at > now]
        if cursor is None:
            break
    return held


async def provisioning(ctx: ControlContext) -> Outcome:
    since = ctx.now - _LOOKBACK
    holding: list[list[object]] = []
    unaudited: list[str] = []
    deactivated = created = 0
    async for user in _users(ctx.session):
        uid = str(user.id)
        if since <= user.created_at <= ctx.now:
            created += 1
            # The role is given at creation (the entry names it): provisioning is audited.
            if not await _audited(ctx.session, uid, "user.created"):
                unaudited.append(f"user {uid} created without an audit entry")
        if user.is_active:
            continue
        deactivated += 1
        for credential in await _live_credentials(ctx.session, user, ctx.now):
            holding.append([uid, credential])
        if since <= user.updated_at <= ctx.now and not await _audited(
            ctx.session, uid, "user.deactivated"
        ):
            unaudited.append(f"user {uid} deactivated without an audit entry")
    evidence = (
        csv_evidence("deactivated_live_credentials.csv", ["user_id", "credential"], holding),
        json_evidence("unaudited_changes.json", unaudited),
    )
    figures = {
        "deactivated_users": deactivated,
        "created_in_period": created,
        "live_credentials_of_deactivated": len(holding),
        "unaudited_changes": len(unaudited),
    }
    problems = []
    if holding:
        users = sorted({str(row[0]) for row in holding})
        problems.append(
            f"{len(users)} deactivated user(s) still hold {len(holding)} live credential(s): "
            f"users {named(users)}"
        )
    if unaudited:
        problems.append(named(unaudited))
    if problems:
        return Outcome(False, "; ".join(problems), since, ctx.now, evidence, figures)
    reason = (
        f"{deactivated} deactivated users hold no live session, OAuth authorization or API "
        f"key; {created} users created in the period, each audited with its role"
    )
    return Outcome(True, reason, since, ctx.now, evidence, figures)


def _staff_roles() -> frozenset[Role]:
    # Staff is every role but the policyholder's: identity.rules.STAFF_ROLES, which this
    # package may not import (identity.service does not re-export it); a test holds them equal.
    return frozenset(Role) - {Role.CUSTOMER}


async def staff_mfa(ctx: ControlContext) -> Outcome:
    staff = sorted(_staff_roles(), key=lambda r: r.value)
    not_required = [r.value for r in staff if not mfa.mfa_required(ctx.settings, r.value)]
    rows: list[list[object]] = []
    missing: list[str] = []
    for role in staff:
        async for user in _users(ctx.session, role):
            if not user.is_active:
                continue
            if user.is_demo:
                # A demo account signs in only in demo mode, never on a carrier's platform.
                rows.append([str(user.id), role.value, "demo account", ""])
                continue
            methods = await mfa.methods_of(ctx.session, user.id)
            rows.append([str(user.id), role.value, "active", " ".join(sorted(set(methods)))])
            if not methods:
                missing.append(str(user.id))
    evidence = (
        csv_evidence("staff_mfa.csv", ["user_id", "role", "status", "mfa_methods"], rows),
        json_evidence(
            "mfa_policy.json",
            {"mfa_required_roles": sorted(ctx.settings.mfa_required_roles), "staff_roles": staff},
        ),
    )
    demo = sum(1 for row in rows if row[2] == "demo account")
    figures = {"staff_users": len(rows) - demo, "without_mfa": len(missing)}
    problems = []
    if not_required:
        problems.append(f"MFA is not required at sign-in for staff roles {', '.join(not_required)}")
    if missing:
        problems.append(f"{len(missing)} active staff user(s) have no MFA: {named(missing)}")
    if problems:
        return Outcome(False, "; ".join(problems), ctx.now, ctx.now, evidence, figures)
    reason = (
        f"MFA required at sign-in for every staff role; each of the {len(rows) - demo} active "
        "staff users has a confirmed TOTP or a passkey"
    )
    return Outcome(True, reason, ctx.now, ctx.now, evidence, figures)


PROVISIONING = Control(
    id="CC6.2-provisioning-removal",
    criteria=("CC6.2", "CC6.3"),
    title="Removed users hold no access; provisioning is audited",
    description=(
        "Deactivated users hold no live login session, OAuth authorization or API key; every "
        "user created (with their role) or deactivated in the period has its audit entry."
    ),
    frequency=Frequency.DAILY,
    test=provisioning,
)

STAFF_MFA = Control(
    id="CC6.6-staff-mfa",
    criteria=("CC6.6",),
    title="MFA enforced for staff",
    description=(
        "Sign-in requires MFA for every staff role (mfa_required_roles), and every active "
        "staff user has a confirmed TOTP or a passkey; users are named by id."
    ),
    frequency=Frequency.DAILY,
    test=staff_mfa,
)
