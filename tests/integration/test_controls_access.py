"""CC6.1, CC6.2/CC6.3 and CC6.6 run against the real application and database: each passes on
a healthy platform and fails, naming what is wrong, when its condition is broken."""

from __future__ import annotations

import uuid

import pytest
from fastapi.routing import APIRoute
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from pd_prime_demo.compliance.control import ControlContext
from pd_prime_demo.compliance.controls.access import LOGICAL_ACCESS, PUBLIC_ROUTES, route_table
from pd_prime_demo.compliance.controls.users import PROVISIONING, STAFF_MFA
from pd_prime_demo.core import clock
from pd_prime_demo.core.actor import Actor, Permission, Role
from pd_prime_demo.core.config import Environment
from pd_prime_demo.core.result_types import Ok
from pd_prime_demo.core.runtime import Runtime
from pd_prime_demo.identity import mfa
from pd_prime_demo.identity import service as identity
from pd_prime_demo.main import create_app
from tests.factories import create_user, user_login

ADMIN = Actor.system("tests")
STAFF = ["admin", "adjuster", "agent", "underwriter"]


def _ctx(
    session: AsyncSession, runtime: Runtime, routes: tuple[object, ...] = ()
) -> ControlContext:
    return ControlContext(
        session=session, settings=runtime.settings, now=clock.now(), routes=routes
    )


async def test_every_route_of_the_app_is_protected_or_documented_public(
    session: AsyncSession, runtime: Runtime
) -> None:
    routes = tuple(create_app(runtime=runtime).routes)
    outcome = await LOGICAL_ACCESS.test(_ctx(session, runtime, routes))
    assert outcome.passed, outcome.reason
    names = {e.name for e in outcome.evidence}
    assert names == {"routes.json", "role_permissions.json", "role_permissions_unreviewed.json"}
    table = route_table(routes)
    # The public list is exactly the app's unauthenticated routes: none is stale.
    assert {(str(r["method"]), str(r["path"])) for r in table if not r["authenticated"]} == set(
        PUBLIC_ROUTES
    )


async def test_an_unprotected_route_fails_naming_it(
    session: AsyncSession, runtime: Runtime
) -> None:
    async def leaky() -> dict[str, str]:
        return {"all": "the data"}

    routes = (*create_app(runtime=runtime).routes, APIRoute("/api/v1/leaky", leaky))
    outcome = await LOGICAL_ACCESS.test(_ctx(session, runtime, routes))
    assert not outcome.passed
    assert "GET /api/v1/leaky" in outcome.reason
    assert outcome.figures["unprotected"] == 1


async def test_no_routes_is_not_a_pass(session: AsyncSession, runtime: Runtime) -> None:
    outcome = await LOGICAL_ACCESS.test(_ctx(session, runtime))
    assert not outcome.passed


async def test_deactivated_users_hold_nothing_and_changes_are_audited(
    client: AsyncClient, session: AsyncSession, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    await create_user(runtime, Role.ADMIN)
    async with runtime.db.unit_of_work() as work:
        # A system actor is not the user: deactivating someone else, as an admin would.
        assert isinstance(await identity.deactivate_user(work, agent.user_id, actor=ADMIN), Ok)
    outcome = await PROVISIONING.test(_ctx(session, runtime))
    assert outcome.passed, outcome.reason
    assert outcome.figures["deactivated_users"] == 1
    assert outcome.figures["created_in_period"] == 2


async def test_a_deactivated_user_with_a_live_session_fails(
    client: AsyncClient, session: AsyncSession, runtime: Runtime
) -> None:
    agent = await user_login(client, runtime, Role.AGENT)
    # Deactivated behind the service's back (a hand-edited row, a bad import): its login
    # session is still live.
    await session.execute(
        text("UPDATE users SET is_active = false WHERE id = :id"), {"id": agent.user_id}
    )
    outcome = await PROVISIONING.test(_ctx(session, runtime))
    assert not outcome.passed
    assert str(agent.user_id) in outcome.reason
    assert "live credential" in outcome.reason
    [csv] = [e for e in outcome.evidence if e.name == "deactivated_live_credentials.csv"]
    assert str(agent.user_id) in csv.content.decode()
    assert agent.email not in outcome.reason + csv.content.decode()


async def test_a_user_created_without_an_audit_entry_fails(
    session: AsyncSession, runtime: Runtime
) -> None:
    user_id = uuid.uuid4()
    await session.execute(
        text(
            "INSERT INTO users (id, email, password_hash, role, full_name, is_active) "
            "VALUES (:id, :email, 'x', 'admin', 'Nobody Audited', true)"
        ),
        {"id": user_id, "email": f"{user_id.hex}@example.com"},
    )
    outcome = await PROVISIONING.test(_ctx(session, runtime))
    assert not outcome.passed
    assert f"user {user_id} created without an audit entry" in outcome.reason


async def test_staff_without_mfa_fail_by_id_and_pass_once_enrolled(
    session: AsyncSession, runtime: Runtime
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"mfa_required_roles": STAFF})
    adjuster = await create_user(runtime, Role.ADJUSTER)
    await create_user(runtime, Role.CUSTOMER)  # not staff: MFA is theirs to choose
    outcome = await STAFF_MFA.test(_ctx(session, runtime))
    assert not outcome.passed
    assert str(adjuster) in outcome.reason
    assert "@" not in outcome.reason

    async with runtime.db.unit_of_work() as work:
        found = await identity.get_user(work, adjuster)
        assert isinstance(found, Ok)
        user = found.value
        enrolment = await mfa.begin_totp(work, runtime, user)
        assert isinstance(enrolment, Ok)
        code = mfa.totp_code(enrolment.value.secret, at=clock.now().timestamp())
        assert isinstance(await mfa.confirm_totp(work, runtime, user, code, actor=ADMIN), Ok)
    outcome = await STAFF_MFA.test(_ctx(session, runtime))
    assert outcome.passed, outcome.reason
    assert outcome.figures == {"staff_users": 1, "without_mfa": 0}


async def test_mfa_not_required_for_a_staff_role_fails(
    session: AsyncSession, runtime: Runtime
) -> None:
    runtime.settings = runtime.settings.model_copy(update={"mfa_required_roles": ["admin"]})
    outcome = await STAFF_MFA.test(_ctx(session, runtime))
    assert not outcome.passed
    assert "not required at sign-in for staff roles adjuster, agent, underwriter" in outcome.reason


async def test_cc6_1_fails_naming_a_role_permission_change(
    session: AsyncSession, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    routes = tuple(create_app(runtime=runtime).routes)
    assert (await LOGICAL_ACCESS.test(_ctx(session, runtime, routes))).passed
    changed = dict(identity.ROLE_PERMISSIONS)
    changed[Role.CUSTOMER] = changed[Role.CUSTOMER] | {Permission.CLAIMS_PAY}
    monkeypatch.setattr(identity, "ROLE_PERMISSIONS", changed)
    outcome = await LOGICAL_ACCESS.test(_ctx(session, runtime, routes))
    assert not outcome.passed
    assert "customer +claims:pay" in outcome.reason
    assert outcome.figures["unreviewed_permission_changes"] == 1


async def test_a_role_change_without_its_audit_entry_fails(
    session: AsyncSession, runtime: Runtime
) -> None:
    agent = await create_user(runtime, Role.AGENT)
    assert (await PROVISIONING.test(_ctx(session, runtime))).passed
    # Promoted behind identity's back (no user.role_changed entry).
    await session.execute(
        text("UPDATE users SET role = 'admin', updated_at = now() WHERE id = :id"), {"id": agent}
    )
    outcome = await PROVISIONING.test(_ctx(session, runtime))
    assert not outcome.passed
    assert f"user {agent} holds role admin with no audit entry giving it" in outcome.reason


async def test_an_active_demo_staff_account_fails_in_production_only(
    session: AsyncSession, runtime: Runtime
) -> None:
    runtime.settings = runtime.settings.model_copy(
        update={"mfa_required_roles": STAFF, "env": Environment.DEVELOPMENT}
    )
    demo = await create_user(runtime, Role.AGENT)
    await session.execute(text("UPDATE users SET is_demo = true WHERE id = :id"), {"id": demo})
    outcome = await STAFF_MFA.test(_ctx(session, runtime))
    assert outcome.passed, outcome.reason
    runtime.settings = runtime.settings.model_copy(update={"env": Environment.PRODUCTION})
    outcome = await STAFF_MFA.test(_ctx(session, runtime))
    assert not outcome.passed
    assert "active demo staff account(s) (published password) in the production" in outcome.reason
    assert str(demo) in outcome.reason
