"""User provisioning and removal (AICPA TSC CC6.2, CC6.3) and MFA for staff (CC6.6).

The users a check concerns are found in one set-based query each (``identity_queries``):
staff, and users created or deactivated in the period; their audit trails are read through
``audit.service.list_entries`` (keyset pages on the (resource_type, resource_id) index).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.audit import service as audit
from pd_prime_demo.compliance.control import Control, ControlContext, Frequency, Outcome
from pd_prime_demo.compliance.controls import identity_queries as q
from pd_prime_demo.compliance.controls.evidence import csv_evidence, json_evidence, named
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.identity import service as identity

_PAGE = 200
# CC6.2/CC6.3 looks back over one period of its frequency (daily), with a day's overlap so a
# run that was late still covers the whole day.
_LOOKBACK = timedelta(days=2)
_ROLE_NAMING = ("user.created", "user.role_changed")


def _role_named(action: str, changes: dict[str, object]) -> object:
    return changes.get("role") if action == "user.created" else changes.get("to")


async def _trail(
    session: AsyncSession, user: q.ScopedUser, since: datetime, *, want_role: bool
) -> tuple[set[str], object | None]:
    """The actions on ``user`` since ``since``, and (``want_role``) the role their newest
    role-naming entry gives, however old: paged newest first, stopping once both are known."""
    actions: set[str] = set()
    role: object | None = None
    cursor: str | None = None
    while True:
        page = await audit.list_entries(
            session, resource_type="user", resource_id=str(user.id), cursor=cursor, limit=_PAGE
        )
        if not isinstance(page, Ok):
            raise RuntimeError(f"audit entries could not be listed: {page}")
        entries, cursor = page.value
        for entry in entries:
            if entry.occurred_at >= since:
                actions.add(entry.action)
            if want_role and role is None and entry.action in _ROLE_NAMING:
                role = _role_named(entry.action, entry.changes) or "?"
            if entry.occurred_at < since and (role is not None or not want_role):
                return actions, role
        if cursor is None:
            return actions, role


async def _unaudited(ctx: ControlContext, since: datetime) -> tuple[list[str], dict[str, int]]:
    unaudited: list[str] = []
    counts = {"created_in_period": 0, "deactivated_in_period": 0, "staff_changed_in_period": 0}
    for user in await q.users_in_scope(ctx.session, since, ctx.now):
        uid = str(user.id)
        created = since <= user.created_at <= ctx.now
        deactivated = not user.is_active and since <= user.updated_at <= ctx.now
        staff = user.role in q.STAFF and since <= user.updated_at <= ctx.now
        counts["created_in_period"] += created
        counts["deactivated_in_period"] += deactivated
        counts["staff_changed_in_period"] += staff
        actions, role = await _trail(ctx.session, user, since, want_role=staff)
        # The role is given at creation (the entry names it): provisioning is audited.
        if created and "user.created" not in actions:
            unaudited.append(f"user {uid} created without an audit entry")
        if deactivated and "user.deactivated" not in actions:
            unaudited.append(f"user {uid} deactivated without an audit entry")
        # CC6.2: a staff role is an authorization; the newest entry naming the user's role
        # must name the role they hold now, or it was changed unaudited.
        if staff and role != user.role:
            unaudited.append(f"user {uid} holds role {user.role} with no audit entry giving it")
    return unaudited, counts


async def provisioning(ctx: ControlContext) -> Outcome:
    since = ctx.now - _LOOKBACK
    held = await q.live_credentials_of_deactivated(ctx.session, ctx.now)
    holding: list[list[object]] = [[str(uid), credential] for uid, credential in held]
    unaudited, counts = await _unaudited(ctx, since)
    deactivated = await q.deactivated_count(ctx.session)
    evidence = (
        csv_evidence("deactivated_live_credentials.csv", ["user_id", "credential"], holding),
        json_evidence("unaudited_changes.json", unaudited),
    )
    figures = {
        "deactivated_users": deactivated,
        **counts,
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
        f"key; {counts['created_in_period']} users created, "
        f"{counts['deactivated_in_period']} deactivated and "
        f"{counts['staff_changed_in_period']} staff changed in the period, each audited"
    )
    return Outcome(True, reason, since, ctx.now, evidence, figures)


async def staff_mfa(ctx: ControlContext) -> Outcome:
    staff = q.STAFF
    not_required = [r for r in staff if not identity.mfa_required(ctx.settings, r)]
    # A demo account has a published password: legitimate only where demo accounts are
    # (demo mode, a developer's machine); anywhere else an active one fails CC6.6.
    demo_allowed = ctx.settings.demo_accounts_allowed
    rows: list[list[object]] = []
    missing: list[str] = []
    demo_active: list[str] = []
    for user_id, role, is_demo, methods in await q.active_staff_mfa(ctx.session):
        if is_demo:
            rows.append([str(user_id), role, "demo account", " ".join(methods)])
            if not demo_allowed:
                demo_active.append(str(user_id))
            continue
        rows.append([str(user_id), role, "active", " ".join(methods)])
        if not methods:
            missing.append(str(user_id))
    evidence = (
        csv_evidence("staff_mfa.csv", ["user_id", "role", "status", "mfa_methods"], rows),
        json_evidence(
            "mfa_policy.json",
            {
                "mfa_required_roles": sorted(ctx.settings.mfa_required_roles),
                "staff_roles": staff,
                "environment": ctx.settings.env.value,
                "demo_accounts_allowed": demo_allowed,
            },
        ),
    )
    demo = sum(1 for row in rows if row[2] == "demo account")
    figures = {"staff_users": len(rows) - demo, "without_mfa": len(missing)}
    if demo_active:
        figures["active_demo_accounts"] = len(demo_active)
    problems = []
    if not_required:
        problems.append(f"MFA is not required at sign-in for staff roles {', '.join(not_required)}")
    if missing:
        problems.append(f"{len(missing)} active staff user(s) have no MFA: {named(missing)}")
    if demo_active:
        problems.append(
            f"{len(demo_active)} active demo staff account(s) (published password) in the "
            f"{ctx.settings.env.value} environment: {named(demo_active)}"
        )
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
